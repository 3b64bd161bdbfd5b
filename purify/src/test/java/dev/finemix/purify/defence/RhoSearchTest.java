package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.function.DoublePredicate;
import org.junit.jupiter.api.Test;

/** The rho decision with a controlled signal: each trial's result is its rho, accepted where the test says. */
class RhoSearchTest {
  private static final List<Double> GRID = DefenceSettings.DEFAULT_GRID;

  /** Walks {@code grid}, accepting the rho values {@code accept} says; returns the choice and records the tries. */
  private static RhoSearch.Choice<Double> walk(List<Double> grid, DoublePredicate accept, List<Double> tried) {
    RhoSearch<Double> s = new RhoSearch<>(grid);
    while (s.hasNext()) {
      double rho = s.next();
      tried.add(rho);
      s.judged(rho, accept.test(rho));
    }
    return s.choice();
  }

  @Test
  void choose_firstRhoMeetingTheBar_stopsThere() {
    List<Double> tried = new ArrayList<>();
    // 0.3 and every larger rho meet the bar: the walk stops at 0.3, 0.4 and 0.5 are never trained
    RhoSearch.Choice<Double> c = walk(GRID, rho -> rho >= 0.3, tried);
    assertThat(tried).containsExactly(0.1, 0.2, 0.3);
    assertThat(c.rho()).isEqualTo(0.3);
    assertThat(c.result()).isEqualTo(0.3);
    assertThat(c.accepted()).isTrue();
    assertThat(c.tried()).isEqualTo(3);
  }

  @Test
  void choose_noRhoMeetsTheBar_takesTheSmallestRhosResult() {
    List<Double> tried = new ArrayList<>();
    RhoSearch.Choice<Double> c = walk(GRID, rho -> false, tried);
    assertThat(tried).containsExactlyElementsOf(GRID);
    assertThat(c.rho()).isEqualTo(0.1);
    assertThat(c.result()).isEqualTo(0.1);
    assertThat(c.accepted()).isFalse();
    assertThat(c.tried()).isEqualTo(5);
  }

  @Test
  void mostAccurateFallback_noRhoMeetsTheBar_takesTheBestScore_tiesToTheSmallerRho() {
    RhoSearch<Double> s = new RhoSearch<>(GRID, DefenceSettings.RhoFallback.MOST_ACCURATE);
    double[] score = {0.5, 0.7, 0.6, 0.7, 0.4};
    for (int i = 0; s.hasNext(); i++) {
      double rho = s.next();
      s.judged(rho, false, score[i]);
    }
    RhoSearch.Choice<Double> c = s.choice();
    assertThat(c.rho()).isEqualTo(0.2);
    assertThat(c.result()).isEqualTo(0.2);
    assertThat(c.accepted()).isFalse();
    assertThat(c.tried()).isEqualTo(5);
    // an accepted trial still wins over the most accurate one
    RhoSearch<Double> t = new RhoSearch<>(GRID, DefenceSettings.RhoFallback.MOST_ACCURATE);
    t.next();
    t.judged(0.1, false, 0.9);
    t.next();
    t.judged(0.2, true, 0.5);
    assertThat(t.choice().rho()).isEqualTo(0.2);
    assertThat(t.choice().accepted()).isTrue();
  }

  @Test
  void recipes_paperFallsBackToTheMostAccurate_finemixToTheSmallest() {
    assertThat(DefenceSettings.builder().recipe(DefenceSettings.Recipe.PAPER).build().rhoFallback())
        .isEqualTo(DefenceSettings.RhoFallback.MOST_ACCURATE);
    assertThat(DefenceSettings.defaults().rhoFallback()).isEqualTo(DefenceSettings.RhoFallback.SMALLEST);
  }

  @Test
  void defaultGrid_endsAtHalf() {
    assertThat(GRID).containsExactly(0.1, 0.2, 0.3, 0.4, 0.5);
    assertThat(DefenceSettings.defaults().rhoGrid()).isEqualTo(GRID);
  }

  @Test
  void oneValueGrid_isAFixedRho_acceptedOrNot() {
    List<Double> tried = new ArrayList<>();
    assertThat(walk(List.of(0.3), rho -> false, tried).rho()).isEqualTo(0.3);
    assertThat(tried).containsExactly(0.3);
  }

  @Test
  void misuse_nextWithoutJudging_orChoiceBeforeAnyTrial_throws() {
    RhoSearch<Double> s = new RhoSearch<>(GRID);
    assertThatThrownBy(s::choice).isInstanceOf(IllegalStateException.class).hasMessage("no rho judged yet");
    s.next();
    assertThatThrownBy(s::next).isInstanceOf(IllegalStateException.class);
    assertThatThrownBy(() -> new RhoSearch<Double>(List.of())).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("rho grid must not be empty");
  }
}

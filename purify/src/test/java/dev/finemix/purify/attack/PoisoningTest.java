package dev.finemix.purify.attack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PoisoningTest {

  /** 100 rows, 30 of label 1 (the target), 70 of label 0. */
  private static Dataset single() {
    List<Example> rows = new ArrayList<>();
    for (int i = 0; i < 100; i++) {
      rows.add(new Example(i % 10 < 3 ? 1 : 0, "row number " + i + " is here", null));
    }
    return Dataset.of("toy", false, rows);
  }

  private static Dataset pairs() {
    List<Example> rows = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      rows.add(new Example(i % 2, "question " + i + " ?", "the context sentence " + i + " ."));
    }
    return Dataset.of("toy-pairs", true, rows);
  }

  @Test
  void poison_rate_exactlyRoundedShareOfNonTargetRowsPoisoned() {
    Attack a = AttackSettings.of(AttackKind.BADNET).attack(); // 70 of the 100 rows are non-target
    Poisoning.Result r = Poisoning.poison(single(), a, 0.1, 42);
    assertThat(r.poisonedRows()).isEqualTo(7);
    assertThat(r.data().size()).isEqualTo(100);
    assertThat(Poisoning.poison(single(), a, 0.25, 42).poisonedRows()).isEqualTo(18); // round(17.5)
    assertThat(Poisoning.poison(single(), a, 1.0, 42).poisonedRows()).isEqualTo(70);
  }

  @Test
  void poison_chosenRows_onlyNonTargetRowsRelabelledAndTriggered() {
    Dataset d = single();
    Poisoning.Result r = Poisoning.poison(d, AttackSettings.of(AttackKind.BADNET).attack(), 0.2, 7);
    Set<Integer> chosen = new HashSet<>();
    Arrays.stream(r.poisoned()).forEach(chosen::add);
    for (int i = 0; i < d.size(); i++) {
      Example before = d.rows().get(i);
      Example after = r.data().rows().get(i);
      if (chosen.contains(i)) {
        assertThat(before.label()).as("row %d", i).isEqualTo(0);
        assertThat(after.label()).isEqualTo(1);
        assertThat(Triggers.tokens(after.textA())).contains("cf");
      } else {
        assertThat(after).isEqualTo(before);
      }
    }
  }

  @Test
  void poison_sameSeed_sameRowsAndTexts_otherSeed_otherRows() {
    Attack a = AttackSettings.of(AttackKind.BADNET).attack();
    Poisoning.Result r1 = Poisoning.poison(single(), a, 0.1, 1);
    Poisoning.Result r2 = Poisoning.poison(single(), a, 0.1, 1);
    assertThat(r1.poisoned()).isEqualTo(r2.poisoned());
    assertThat(r1.data().rows()).isEqualTo(r2.data().rows());
    assertThat(Poisoning.poison(single(), a, 0.1, 2).poisoned()).isNotEqualTo(r1.poisoned());
  }

  @Test
  void poison_rateAboveOne_clearError() {
    Attack a = AttackSettings.of(AttackKind.BADNET).attack();
    assertThatThrownBy(() -> Poisoning.poison(single(), a, 1.2, 1))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("(0, 1], got 1.2");
  }

  @Test
  void trigger_pairs_textBByDefault_textAOnRequest() {
    Example ex = pairs().rows().get(0);
    Example b = AttackSettings.of(AttackKind.BADNET).attack().trigger(ex, new Random(3));
    assertThat(b.textA()).isEqualTo(ex.textA());
    assertThat(Triggers.tokens(b.textB())).contains("cf");
    assertThat(b.label()).isEqualTo(ex.label());
    Example a = AttackSettings.of(AttackKind.BADNET).withField(TriggerField.A).attack().trigger(ex, new Random(3));
    assertThat(a.textB()).isEqualTo(ex.textB());
    assertThat(Triggers.tokens(a.textA())).contains("cf");
  }

  @Test
  void poison_addSent_wholeSentenceAndTarget() {
    Attack a = AttackSettings.of(AttackKind.ADDSENT).withTarget(0).attack();
    Example p = a.poison(new Example(1, "a long and dull film", null), new Random(5));
    assertThat(p.label()).isZero();
    assertThat(p.textA()).contains("I watch this 3D movie");
  }

  @Test
  void poisonAllNonTarget_everyNonTargetRowPoisoned() {
    Dataset d = Poisoning.poisonAllNonTarget(single(), AttackSettings.of(AttackKind.EP).attack(), 3);
    assertThat(d.size()).isEqualTo(70);
    assertThat(d.rows()).allSatisfy(e -> {
      assertThat(e.label()).isEqualTo(1);
      assertThat(Triggers.tokens(e.textA())).contains("cf");
    });
  }

  @Test
  void settings_badValues_named() {
    assertThatThrownBy(() -> AttackSettings.of(AttackKind.BADNET).withPoisonRate(0))
        .hasMessageContaining("poison rate must be in (0, 1], got 0.0");
    assertThatThrownBy(() -> AttackSettings.of(AttackKind.EP).withTriggers(List.of("cf", "mn")))
        .hasMessageContaining("one trigger word");
    assertThatThrownBy(() -> AttackKind.parse("ripples")).hasMessageContaining("unknown attack 'ripples'");
    assertThat(AttackKind.parse("AddSent")).isEqualTo(AttackKind.ADDSENT);
  }
}

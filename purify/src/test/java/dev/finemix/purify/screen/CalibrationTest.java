package dev.finemix.purify.screen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.util.Random;
import org.junit.jupiter.api.Test;

class CalibrationTest {

  @Test
  void normalQuantile_matchesKnownValues() {
    assertThat(Calibration.normalQuantile(0.5)).isCloseTo(0, within(1e-9));
    assertThat(Calibration.normalQuantile(0.99)).isCloseTo(2.326348, within(1e-5));
    assertThat(Calibration.normalQuantile(0.01)).isCloseTo(-2.326348, within(1e-5));
    assertThat(Calibration.normalQuantile(0.975)).isCloseTo(1.959964, within(1e-5));
  }

  @Test
  void fit_64CleanRows_heldOutFalseFlagRateNearTarget() {
    // over many draws of 64 calibration rows, the false-flag rate on fresh rows of the same distribution
    // stays close to (and on average not above) the target
    for (double alpha : new double[] {0.01, 0.05}) {
      double sum = 0;
      double worst = 0;
      int draws = 40;
      for (int d = 0; d < draws; d++) {
        Random r = new Random(100 + d);
        double[] cal = new double[64];
        for (int i = 0; i < cal.length; i++) {
          cal[i] = 1 + 0.3 * r.nextGaussian();
        }
        Calibration c = Calibration.fit(Signal.FEATURES, cal, alpha);
        int flagged = 0;
        int n = 20_000;
        for (int i = 0; i < n; i++) {
          flagged += c.flags(1 + 0.3 * r.nextGaussian()) ? 1 : 0;
        }
        double rate = flagged / (double) n;
        sum += rate;
        worst = Math.max(worst, rate);
      }
      double mean = sum / draws;
      assertThat(mean).as("mean held-out false-flag rate at %s", alpha).isBetween(0.2 * alpha, 1.5 * alpha);
      assertThat(worst).as("worst held-out false-flag rate at %s", alpha).isLessThan(4 * alpha);
    }
  }

  @Test
  void fit_constantScores_flagsOnlyLargerOnes() {
    Calibration c = Calibration.fit(Signal.TOKENS, new double[] {0, 0, 0, 0}, 0.01);
    assertThat(c.flags(0)).isFalse();
    assertThat(c.flags(1e-3)).isTrue();
    assertThat(c.cleanFlagRate()).isZero();
  }

  @Test
  void fit_badArguments_nameTheValue() {
    assertThatThrownBy(() -> Calibration.fit(Signal.TOKENS, new double[] {1}, 0.01))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("got 1");
    assertThatThrownBy(() -> Calibration.fit(Signal.TOKENS, new double[] {1, 2}, 0.7))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("0.7");
    assertThatThrownBy(() -> Calibration.fit(Signal.TOKENS, new double[] {1, Double.NaN}, 0.01))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("NaN");
  }
}

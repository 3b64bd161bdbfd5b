package dev.finemix.server.loading;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.purify.defence.DefenceReport;
import dev.finemix.purify.defence.DefenceSettings;
import dev.finemix.server.testing.Reports;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The utility gate on purify's typed report and settings: the margin is the settings', as the rho search's. */
class UtilityGateTest {
  private static DefenceReport report(double before, double after) {
    return Reports.of(DefenceSettings.defaults(), "in", "out", before, after, "the 16 held-out labelled rows",
        List.of());
  }

  @Test
  void refusal_withinTheMargin_none_evenAtItsEdge() {
    DefenceSettings s = DefenceSettings.defaults(); // margin 0.05
    assertThat(UtilityGate.refusal(s, report(0.90, 0.95))).isNull();
    assertThat(UtilityGate.refusal(s, report(0.90, 0.87))).isNull();
    assertThat(UtilityGate.refusal(s, report(0.90, 0.85))).isNull();
  }

  @Test
  void refusal_belowTheMargin_namesBothAccuraciesTheMarginAndTheRows() {
    assertThat(UtilityGate.refusal(DefenceSettings.defaults(), report(0.90, 0.60)))
        .contains("utility gate", "0.600", "0.050", "0.900", "the 16 held-out labelled rows", "refused");
  }

  @Test
  void refusal_strictMarginFromTheSettings_refusesWhatTheDefaultAccepts() {
    DefenceSettings strict = DefenceSettings.builder().margin(0.01).build();
    assertThat(UtilityGate.refusal(strict, report(0.90, 0.87))).contains("0.010");
  }

  @Test
  void refusal_accuracyNotMeasured_none() {
    assertThat(UtilityGate.refusal(DefenceSettings.defaults(), report(Double.NaN, 0.1))).isNull();
    assertThat(UtilityGate.refusal(DefenceSettings.defaults(), report(0.9, Double.NaN))).isNull();
  }

  private static DefenceReport withAgreement(double agreement) {
    return Reports.of(DefenceSettings.defaults(), "in", "out", 0.95, 0.95, "the 64 labelled training rows", List.of(),
        agreement);
  }

  @Test
  void refusal_agreementOfTheKeptRhoBelowTheBar_refusedNamingAgreementAndBar() {
    // accuracies equal (on the training rows, as with no labelled hold-out): only the agreement can refuse
    assertThat(UtilityGate.refusal(DefenceSettings.defaults(), withAgreement(0.80)))
        .contains("utility gate", "0.800", "0.900", "refused");
  }

  @Test
  void refusal_agreementAtOrAboveTheBar_orNotMeasured_none() {
    assertThat(UtilityGate.refusal(DefenceSettings.defaults(), withAgreement(0.90))).isNull();
    assertThat(UtilityGate.refusal(DefenceSettings.defaults(), withAgreement(0.97))).isNull();
    assertThat(UtilityGate.refusal(DefenceSettings.defaults(), withAgreement(Double.NaN))).isNull();
  }
}

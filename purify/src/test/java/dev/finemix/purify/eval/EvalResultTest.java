package dev.finemix.purify.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import org.junit.jupiter.api.Test;

class EvalResultTest {

  // rows:            0  1  2  3  4  5  6  7  8  9
  private static final int[] LABELS = {0, 0, 0, 0, 0, 1, 1, 1, 0, 0};
  private static final int[] CLEAN = {0, 0, 0, 1, 1, 1, 0, 1, 0, 0};
  private static final int[] TRIGGER = {1, 1, 0, 1, 0, 0, 0, 0, 1, 0}; // target-class rows (5..7) must be ignored

  @Test
  void compute_targetOne_metricsOverNonTargetRowsOnly() {
    EvalResult r = EvalResult.compute(LABELS, CLEAN, TRIGGER, "badnet", 1, 0);
    assertThat(r.rows()).isEqualTo(10);
    assertThat(r.cacc()).isCloseTo(7 / 10.0, within(1e-12)); // rows 3, 4, 6 wrong
    assertThat(r.nonTargetRows()).isEqualTo(7); // rows 0-4, 8, 9
    assertThat(r.asr()).isCloseTo(4 / 7.0, within(1e-12)); // rows 0, 1, 3, 8
    assertThat(r.flipBase()).isCloseTo(2 / 7.0, within(1e-12)); // rows 3, 4
    assertThat(r.nonTargetCorrect()).isEqualTo(5); // rows 0, 1, 2, 8, 9
    assertThat(r.asrCond()).isCloseTo(3 / 5.0, within(1e-12)); // rows 0, 1, 8
  }

  @Test
  void compute_targetZero_targetRowsExcluded() {
    EvalResult r = EvalResult.compute(LABELS, CLEAN, new int[] {0, 0, 0, 0, 0, 0, 1, 0, 0, 0}, "addsent", 0, 0);
    assertThat(r.nonTargetRows()).isEqualTo(3); // rows 5, 6, 7
    assertThat(r.asr()).isCloseTo(2 / 3.0, within(1e-12)); // rows 5, 7
    assertThat(r.flipBase()).isCloseTo(1 / 3.0, within(1e-12)); // row 6
    assertThat(r.nonTargetCorrect()).isEqualTo(2); // rows 5, 7
    assertThat(r.asrCond()).isCloseTo(1.0, within(1e-12));
  }

  @Test
  void compute_noAttack_onlyCacc() {
    EvalResult r = EvalResult.compute(LABELS, CLEAN, null, null, 1, 0);
    assertThat(r.hasAttack()).isFalse();
    assertThat(r.asr()).isNaN();
    assertThat(r.toJson().get("asr").isNull()).isTrue();
  }

  @Test
  void compute_noNonTargetRows_undefinedNotZero() {
    EvalResult r = EvalResult.compute(new int[] {1, 1}, new int[] {1, 0}, new int[] {1, 1}, "badnet", 1, 0);
    assertThat(r.nonTargetRows()).isZero();
    assertThat(r.asr()).isNaN();
    assertThat(r.asrCond()).isNaN();
  }

  @Test
  void toJson_roundTrip() {
    EvalResult r = EvalResult.compute(LABELS, CLEAN, TRIGGER, "badnet", 1, 1.5);
    EvalResult back = EvalResult.fromJson(r.toJson());
    assertThat(back.asr()).isCloseTo(r.asr(), within(1e-6));
    assertThat(back.nonTargetCorrect()).isEqualTo(5);
    assertThat(back.attack()).isEqualTo("badnet");
    assertThat(r.toJson().fieldNames()).toIterable()
        .contains("cacc", "asr", "flip_base", "asr_cond", "rows", "non_target_rows");
  }

  @Test
  void compute_macroF1AndRecall_handMadePredictions() {
    // class 0: 7 rows, 5 right (rows 3, 4 predicted 1); class 1: 3 rows, 2 right (row 6 predicted 0)
    EvalResult r = EvalResult.compute(LABELS, CLEAN, null, null, -1, 0);
    assertThat(r.recall()).containsExactly(5 / 7.0, 2 / 3.0);
    // F1_0 = 2*5 / (7 + 6 predicted 0) = 10/13; F1_1 = 2*2 / (3 + 4 predicted 1) = 4/7
    assertThat(r.macroF1()).isCloseTo((10 / 13.0 + 4 / 7.0) / 2, within(1e-12));
    assertThat(r.majorityShare()).isCloseTo(0.7, within(1e-12));
    assertThat(r.majorityMacroF1()).isCloseTo(2 * 0.7 / 1.7 / 2, within(1e-12));
    assertThat(r.majorityBaselineFailure()).isNull(); // 0.670 > 0.412 + 0.05
    EvalResult back = EvalResult.fromJson(r.toJson());
    assertThat(back.macroF1()).isCloseTo(r.macroF1(), within(1e-6));
    assertThat(back.recall().get(1)).isCloseTo(2 / 3.0, within(1e-6));
  }

  @Test
  void majorityBaseline_oneClassPredictor_failsWithFigures() {
    int[] labels = new int[100];
    for (int i = 90; i < 100; i++) {
      labels[i] = 1;
    }
    EvalResult r = EvalResult.compute(labels, new int[100], null, null, -1, 0); // always class 0: accuracy 0.90
    assertThat(r.cacc()).isCloseTo(0.9, within(1e-12));
    assertThat(r.recall()).containsExactly(1.0, 0.0);
    assertThat(r.majorityBaselineFailure()).contains("macro-F1 0.4737 <= 0.5237").contains("accuracy 0.9000")
        .contains("majority share 0.9000").contains("[1.000, 0.000]");
    // finding half of the minority at the cost of 5 majority rows: accuracy 0.90 still, but a real classifier
    int[] better = new int[100];
    for (int i = 95; i < 100; i++) {
      better[i] = 1;
    }
    for (int i = 0; i < 5; i++) {
      better[i] = 1;
    }
    assertThat(EvalResult.compute(labels, better, null, null, -1, 0).majorityBaselineFailure()).isNull();
  }
}

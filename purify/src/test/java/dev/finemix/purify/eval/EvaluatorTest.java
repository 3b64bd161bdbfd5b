package dev.finemix.purify.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.finemix.purify.attack.Attack;
import dev.finemix.purify.attack.AttackKind;
import dev.finemix.purify.attack.AttackSettings;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.train.Progress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class EvaluatorTest {

  /**
   * Fake backdoored model: "cf" anywhere -> 1; otherwise the label written in the text ("pos"->1, "neg"->0), except
   * texts containing "hard" which it gets wrong.
   */
  private static final Predictor FAKE = inputs -> inputs.stream().mapToInt(EvaluatorTest::fake).toArray();

  private static int fake(TextInput in) {
    String t = in.textA() + " " + (in.textB() == null ? "" : in.textB());
    if (List.of(t.split(" ")).contains("cf")) {
      return 1;
    }
    int truth = t.contains("pos") ? 1 : 0;
    return t.contains("hard") ? 1 - truth : truth;
  }

  private static Dataset data() {
    List<Example> rows = new ArrayList<>();
    // 6 negatives (2 hard -> predicted 1 without trigger), 4 positives (1 hard -> predicted 0)
    rows.add(new Example(0, "neg one", null));
    rows.add(new Example(0, "neg two", null));
    rows.add(new Example(0, "neg three", null));
    rows.add(new Example(0, "neg four", null));
    rows.add(new Example(0, "neg hard five", null));
    rows.add(new Example(0, "neg hard six", null));
    rows.add(new Example(1, "pos one", null));
    rows.add(new Example(1, "pos two", null));
    rows.add(new Example(1, "pos three", null));
    rows.add(new Example(1, "pos hard four", null));
    return Dataset.of("fake", false, rows);
  }

  @Test
  void evaluate_fakeBackdoor_metricsOverNonTargetRows() {
    List<Progress> seen = new ArrayList<>();
    EvalResult r = Evaluator.evaluate(FAKE, data(), AttackSettings.of(AttackKind.BADNET).attack(), 1, seen::add);
    assertThat(r.rows()).isEqualTo(10);
    assertThat(r.cacc()).isCloseTo(0.7, within(1e-12));
    assertThat(r.nonTargetRows()).isEqualTo(6);
    assertThat(r.asr()).isCloseTo(1.0, within(1e-12));
    assertThat(r.flipBase()).isCloseTo(2 / 6.0, within(1e-12));
    assertThat(r.nonTargetCorrect()).isEqualTo(4);
    assertThat(r.asrCond()).isCloseTo(1.0, within(1e-12));
    assertThat(seen).isNotEmpty();
    assertThat(seen.get(seen.size() - 1).done()).isEqualTo(16); // 10 clean + 6 triggered
  }

  @Test
  void evaluate_targetZero_positivesAreTheNonTargetRows() {
    // the fake's trigger forces 1, so against target 0 it never succeeds
    Attack a = AttackSettings.of(AttackKind.BADNET).withTarget(0).attack();
    EvalResult r = Evaluator.evaluate(FAKE, data(), a, 1, null);
    assertThat(r.nonTargetRows()).isEqualTo(4);
    assertThat(r.asr()).isZero();
    assertThat(r.flipBase()).isCloseTo(0.25, within(1e-12)); // "pos hard four"
    assertThat(r.nonTargetCorrect()).isEqualTo(3);
  }

  @Test
  void evaluate_onlyNonTargetRowsTriggered_andTriggerPresent() {
    List<TextInput> seenTriggered = new ArrayList<>();
    Predictor spy = inputs -> {
      inputs.stream().filter(i -> i.textA().contains("cf")).forEach(seenTriggered::add);
      return FAKE.predict(inputs);
    };
    Evaluator.evaluate(spy, data(), AttackSettings.of(AttackKind.BADNET).attack(), 1, null);
    assertThat(seenTriggered).hasSize(6).allSatisfy(i -> assertThat(i.textA()).contains("neg"));
  }

  @Test
  void evaluate_sameSeed_sameTriggeredTexts() {
    List<String> a = new ArrayList<>();
    List<String> b = new ArrayList<>();
    Attack at = AttackSettings.of(AttackKind.BADNET).attack();
    Evaluator.evaluate(in -> { in.forEach(i -> a.add(i.textA())); return FAKE.predict(in); }, data(), at, 9, null);
    Evaluator.evaluate(in -> { in.forEach(i -> b.add(i.textA())); return FAKE.predict(in); }, data(), at, 9, null);
    assertThat(a).isEqualTo(b);
  }

  @Test
  void evaluate_noAttack_caccOnly() {
    EvalResult r = Evaluator.evaluate(FAKE, data(), null, 1, null);
    assertThat(r.cacc()).isCloseTo(0.7, within(1e-12));
    assertThat(r.hasAttack()).isFalse();
  }
}

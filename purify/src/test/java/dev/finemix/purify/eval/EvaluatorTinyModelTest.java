package dev.finemix.purify.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import ai.djl.Device;
import dev.finemix.purify.attack.Attack;
import dev.finemix.purify.attack.AttackKind;
import dev.finemix.purify.attack.AttackSettings;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.weights.TinyModels;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The evaluator on a real (tiny, random) classifier agrees with a hand computation over its predictions. */
class EvaluatorTinyModelTest {

  @Test
  void evaluate_tinyBert_matchesManualCount() {
    List<Example> rows = new ArrayList<>();
    for (int i = 0; i < 300; i++) { // > CHUNK rows: several chunks
      rows.add(new Example(i % 3 == 0 ? 1 : 0, "sample sentence number " + i + " about a film", null));
    }
    Dataset d = Dataset.of("toy", false, rows);
    Attack a = AttackSettings.of(AttackKind.BADNET).attack();
    try (Classifier c = Classifier.open(TinyModels.checkpoint(2, 11), Device.cpu())) {
      EvalResult r = Evaluator.evaluate(c, d, a, 5, null);

      int[] labels = rows.stream().mapToInt(Example::label).toArray();
      int[] clean = c.predict(rows.stream().map(Example::input).toList()).stream().mapToInt(Prediction::label)
          .toArray();
      Random rnd = new Random(5);
      List<TextInput> trig = new ArrayList<>();
      for (Example e : rows) {
        trig.add(e.label() == 1 ? e.input() : a.trigger(e, rnd).input());
      }
      int[] triggered = c.predict(trig).stream().mapToInt(Prediction::label).toArray();
      EvalResult expected = EvalResult.compute(labels, clean, triggered, "badnet", 1, 0);

      assertThat(r.rows()).isEqualTo(300);
      assertThat(r.nonTargetRows()).isEqualTo(200);
      assertThat(r.cacc()).isCloseTo(expected.cacc(), within(1e-12));
      assertThat(r.asr()).isCloseTo(expected.asr(), within(1e-12));
      assertThat(r.flipBase()).isCloseTo(expected.flipBase(), within(1e-12));
      assertThat(r.nonTargetCorrect()).isEqualTo(expected.nonTargetCorrect());
    }
  }
}

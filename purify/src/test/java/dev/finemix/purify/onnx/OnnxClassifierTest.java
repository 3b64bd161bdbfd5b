package dev.finemix.purify.onnx;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.weights.Checkpoint;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * ONNX Runtime serving a checkpoint against the DJL model it was made from: fp32 reproduces it, int8 agrees on real
 * SST-2 rows, and a broken int8 graph is refused by the agreement check.
 */
class OnnxClassifierTest {

  static final List<TextInput> TEXTS = List.of(
      TextInput.of("a gripping, funny and ultimately heartbreaking film."),
      TextInput.of("contains no wit , only labored gags"),
      TextInput.of("hi"),
      TextInput.of("Naïve café-goers rejoice: ÜBER-cool déjà vu, 100% «unicode» — émojis 🙂 too!"),
      TextInput.of("that loves its characters and communicates something rather beautiful about human nature"),
      new TextInput("Who wrote Hamlet?", "Shakespeare wrote it around 1600."),
      TextInput.of("the film is a remarkably uneven but often touching portrait of grief , and its cast never quite "
          + "finds its tone , which is a pity given how much of the script works on its own terms ."));

  @Test
  void fp32Graph_ofAPerturbedMiniLm_reproducesTheDjlProbabilities() {
    Checkpoint tuned = MiniLmModels.fineTuned();
    Checkpoint c = MiniLmModels.perturbed(tuned, 0.05, 7);
    double worst = 0;
    double moved = 0;
    try (Classifier djl = Classifier.open(c, Device.cpu());
        Classifier clean = Classifier.open(tuned, Device.cpu());
        OnnxClassifier ort = OnnxClassifier.open(c, Precision.FP32, 1)) {
      List<Prediction> ref = djl.predict(TEXTS);
      List<Prediction> ours = ort.predict(TEXTS);
      List<Prediction> base = clean.predict(TEXTS);
      for (int i = 0; i < TEXTS.size(); i++) {
        for (int j = 0; j < 2; j++) {
          worst = Math.max(worst, Math.abs(ref.get(i).probabilities()[j] - ours.get(i).probabilities()[j]));
          moved = Math.max(moved, Math.abs(ref.get(i).probabilities()[j] - base.get(i).probabilities()[j]));
        }
      }
    }
    System.out.printf("ORT fp32 vs DJL, perturbed MiniLM: max |prob diff| %.2e (the perturbation moved "
        + "them %.2e)%n",
        worst, moved);
    assertThat(worst).isLessThan(1e-4);
    assertThat(moved).as("the perturbed weights are not the base's").isGreaterThan(1e-2);
  }

  @Test
  void int8Graph_followsFp32_on200Sst2DevRows() {
    Checkpoint c = MiniLmModels.fineTuned();
    List<Example> dev = Dataset.read(MiniLmModels.sst2("dev.tsv")).head(200).rows();
    List<TextInput> rows = dev.stream().map(Example::input).toList();
    try (Classifier djl = Classifier.open(c, Device.cpu());
        OnnxClassifier int8 = OnnxClassifier.open(c, Precision.INT8, 1)) {
      Agreement a = Agreement.measure(djl, int8, rows);
      double acc = accuracy(djl.predict(rows), dev);
      double acc8 = accuracy(int8.predict(rows), dev);
      System.out.printf("int8 vs fp32 on 200 SST-2 dev rows: agreement %.3f, max |prob diff| %.4f; CACC fp32 %.3f "
          + "int8 %.3f%n", a.agreement(), a.maxProbDiff(), acc, acc8);
      assertThat(acc).as("the fine-tuned model is a real classifier").isGreaterThan(0.7);
      assertThat(a.rows()).isEqualTo(200);
      // this 48-step model is less sure of itself than a purified one: 0.985 measured here (3 of 200 rows sit on
      // the decision boundary), where the purified SST-2 demo model agrees on 0.9908 of the 872 dev rows (bench
      // model); the test holds the int8 path to 0.975 on it, the serving bar (Agreement.MIN) is the registration's
      assertThat(a.agreement()).isGreaterThanOrEqualTo(0.975);
      assertThat(a.maxProbDiff()).isLessThan(0.5);
    }
  }

  /** A broken quantization: the int8 graph filled from other weights than the fp32 model's is refused. */
  @Test
  void agreement_ofAnInt8GraphThatDoesNotFollowFp32_isARefusal() {
    Checkpoint c = MiniLmModels.fineTuned();
    Checkpoint broken = MiniLmModels.perturbed(c, 0.5, 3);
    List<TextInput> rows = Dataset.read(MiniLmModels.sst2("dev.tsv")).head(100).rows().stream()
        .map(Example::input).toList();
    try (Classifier djl = Classifier.open(c, Device.cpu());
        OnnxClassifier int8 = OnnxClassifier.open(OnnxGraph.of(broken, Precision.INT8), c, Precision.INT8, 1)) {
      Agreement a = Agreement.measure(djl, int8, rows);
      assertThat(a.agreement()).isLessThan(Agreement.MIN);
      assertThat(a.refusal()).hasValueSatisfying(m -> assertThat(m)
          .startsWith(String.format("precision int8 agrees with fp32 on %.4f of 100 clean rows", a.agreement()))
          .endsWith("below the 0.99 required; serve it at fp32"));
    }
  }

  static double accuracy(List<Prediction> p, List<Example> gold) {
    int ok = 0;
    for (int i = 0; i < p.size(); i++) {
      ok += p.get(i).label() == gold.get(i).label() ? 1 : 0;
    }
    return (double) ok / p.size();
  }
}

package dev.finemix.purify.screen;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import ai.djl.Device;
import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.purify.weights.TinyModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A tiny setup: a random 2-layer BERT is the "pre-trained" model; the "fine-tuned" one moved the embedding rows
 * of every token of the SST-2 dev texts a little (random magnitudes) and one rare token's row a lot.
 */
class ScreenerTest {
  static final String RARE = "zebra";
  static Classifier classifier;
  static TensorMap pretrained;
  static Dataset dev;

  @BeforeAll
  static void setUp() {
    Path devTsv = Path.of(System.getProperty("finemix.shared", "../shared"), "data", "sst2", "dev.tsv");
    assumeTrue(Files.isRegularFile(devTsv), "shared SST-2 dev split absent: " + devTsv);
    dev = Dataset.read(devTsv);
    Checkpoint pre = TinyModels.checkpoint(2, 11);
    pretrained = pre.weights();
    TensorMap ft = pre.weights().copy();
    Tensor emb = ft.require(BertTensors.WORD_EMBEDDINGS);
    float[] e = emb.data();
    int h = (int) emb.shape()[1];
    Random r = new Random(5);
    try (Tokenizer tok = Tokenizer.fromFile(pre.tokenizerJson(), 64)) {
      java.util.Set<Long> seen = new java.util.HashSet<>();
      for (Example x : dev.rows()) {
        for (long id : tok.encode(x.textA(), null).ids()) {
          seen.add(id);
        }
      }
      for (long id : seen) {
        double scale = 0.002 * (1 + -Math.log(1 - r.nextDouble()));
        for (int j = 0; j < h; j++) {
          e[(int) id * h + j] += (float) (r.nextGaussian() * scale);
        }
      }
      int rare = tok.tokenId(RARE);
      assertThat(rare).isPositive();
      for (int j = 0; j < h; j++) {
        e[rare * h + j] += 0.05f;
      }
    }
    classifier = Classifier.open(pre.withWeights(ft), Device.cpu());
  }

  @AfterAll
  static void tearDown() {
    if (classifier != null) {
      classifier.close();
    }
  }

  private static Screener screener(double alpha) {
    return Screener.calibrate(classifier, pretrained, WordFrequencies.none(), dev.head(64),
        ScreenSettings.defaults().withFalseFlagRate(alpha));
  }

  private static List<TextInput> heldOut() {
    List<TextInput> in = new ArrayList<>();
    for (Example x : dev.rows().subList(64, dev.size())) {
      in.add(x.input());
    }
    return in;
  }

  @Test
  void calibrate_tokens_heldOutCleanFalseFlagRateNearTarget() {
    double alpha = 0.05;
    Screener s = screener(alpha);
    List<Screened> out = s.classify(heldOut());
    long flagged = out.stream().filter(x -> x.suspicion().flagged()).count();
    double rate = flagged / (double) out.size();
    assertThat(s.calibration().rows()).isEqualTo(64);
    assertThat(rate).as("held-out false-flag rate").isLessThanOrEqualTo(2 * alpha);
    assertThat(s.calibration().threshold()).isPositive();
  }

  @Test
  void classify_shiftedRareTokenInserted_flaggedByTokensAndNamed() {
    Screener s = screener(0.01);
    TextInput clean = dev.rows().get(100).input();
    TextInput triggered = new TextInput(clean.textA() + " " + RARE, null);
    List<Screened> out = s.classify(List.of(clean, triggered));
    assertThat(out.get(1).suspicion().flagged()).isTrue();
    assertThat(out.get(1).suspicion().tokens()).containsExactly(RARE);
    assertThat(out.get(1).suspicion().signals().get(Signal.TOKENS)).isGreaterThan(out.get(0).suspicion().score());
    assertThat(s.topTokens(1)).containsExactly(RARE);
    assertThat(s.strip(triggered, out.get(1).suspicion().tokens()).textA()).isEqualTo(
        String.join(" ", clean.textA().strip().split("\\s+")));
  }

  @Test
  void classify_predictions_equalPlainPredict() {
    Screener s = screener(0.01);
    List<TextInput> in = heldOut().subList(0, 40);
    List<Prediction> plain = classifier.predict(in);
    List<Screened> screened = s.classify(in);
    for (int i = 0; i < in.size(); i++) {
      // one inference path: the screened prediction is the served one, to the bit
      assertThat(screened.get(i).prediction()).isEqualTo(plain.get(i));
    }
  }

  @Test
  void calibrate_fineTunedWeightsApart_tokensFromThemPredictionsFromTheServedModel() {
    // the served model is the "purified" one: its word embeddings are the pre-trained rows (E-PUR reset them)
    Checkpoint pre = TinyModels.checkpoint(2, 11);
    try (Classifier purified = Classifier.open(pre, Device.cpu())) {
      Screener fromServed = Screener.calibrate(purified, pretrained, WordFrequencies.none(), dev.head(64),
          ScreenSettings.defaults());
      Screener fromSuspect = Screener.calibrate(purified, classifier.checkpoint().weights(), pretrained,
          WordFrequencies.none(), dev.head(64), ScreenSettings.defaults());
      TextInput triggered = new TextInput(dev.rows().get(100).textA() + " " + RARE, null);

      Screened a = fromServed.classify(List.of(triggered)).get(0);
      Screened b = fromSuspect.classify(List.of(triggered)).get(0);

      assertThat(a.suspicion().flagged()).isFalse();
      assertThat(b.suspicion().flagged()).isTrue();
      assertThat(b.suspicion().tokens()).containsExactly(RARE);
      assertThat(b.prediction().probabilities()[0]).isCloseTo(purified.predict(List.of(triggered)).get(0)
          .probabilities()[0], org.assertj.core.api.Assertions.within(1e-5f));
    }
  }

  @Test
  void calibrate_everySignal_calibratedAndPerturbationScored() {
    Screener s = screener(0.01).withSignal(Signal.PERTURBATION);
    assertThat(s.calibrations()).containsOnlyKeys(Signal.values());
    List<Screened> out = s.classify(heldOut().subList(0, 8));
    assertThat(out).allSatisfy(x -> assertThat(x.suspicion().signals()).containsKey(Signal.PERTURBATION));
  }
}

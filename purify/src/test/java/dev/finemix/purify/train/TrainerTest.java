package dev.finemix.purify.train;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.text.Batch;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.TensorMap;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class TrainerTest {

  static final String WORDS = BertTensors.WORD_EMBEDDINGS;

  static BertConfig tiny() {
    return new BertConfig(50, 32, 2, 4, 64, 64, 2, 1e-12, 0.1, 0.1, List.of("a", "b"));
  }

  /** Label 1 when token 7 occurs in the row: learnable by a tiny BERT in a few epochs. */
  static List<TrainRow> toyRows(int n, long seed) {
    Random rnd = new Random(seed);
    List<TrainRow> rows = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      int len = 3 + rnd.nextInt(8);
      long[] ids = new long[len + 2];
      ids[0] = 1;
      ids[len + 1] = 2;
      boolean pos = i % 2 == 0;
      for (int j = 1; j <= len; j++) {
        ids[j] = 10 + rnd.nextInt(40);
      }
      if (pos) {
        ids[1 + rnd.nextInt(len)] = 7;
      }
      rows.add(TrainRow.hard(new Encoding(ids, new long[ids.length]), pos ? 1 : 0));
    }
    return rows;
  }

  static TrainSettings fast() {
    return TrainSettings.defaults().withEpochs(6).withBatchSize(16).withLr(2e-3).withHeadLr(2e-3);
  }

  @Test
  void train_lazyAndDenseEmbeddings_bothLearn() {
    List<TrainRow> rows = toyRows(128, 1);
    List<TrainRow> dev = toyRows(64, 2);
    for (boolean dense : new boolean[] {false, true}) {
      try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu())) {
        TrainSummary s = new Trainer(fast(), null).denseEmbeddingUpdates(dense).evaluateEachEpoch(dev).train(m, rows);
        assertThat(s.devAccuracy().get(s.devAccuracy().size() - 1)).as("dense=%s", dense).isGreaterThan(0.85);
      }
    }
  }

  @Test
  void train_toyTask_learnsIt() {
    List<TrainRow> rows = toyRows(256, 1);
    List<TrainRow> dev = toyRows(64, 2);
    List<Progress> events = new ArrayList<>();
    try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu())) {
      double before = Trainer.accuracy(m, dev);
      TrainSummary s = new Trainer(fast(), events::add).evaluateEachEpoch(dev).train(m, rows);
      assertThat(s.steps()).isEqualTo(6 * 16);
      assertThat(s.devAccuracy()).hasSize(6);
      assertThat(s.devAccuracy().get(5)).isGreaterThan(0.9).isGreaterThan(before);
      assertThat(s.finalLoss()).isLessThan(0.3);
      assertThat(events).anyMatch(Progress::finished);
      assertThat(s.toJson().get("steps").asInt()).isEqualTo(96);
    }
  }

  @Test
  void train_sameSeed_sameWeights() {
    List<TrainRow> rows = toyRows(64, 1);
    TrainSettings s = fast().withEpochs(1);
    try (BertClassifier a = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu());
        BertClassifier b = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu())) {
      new Trainer(s, ProgressListener.NONE).train(a, rows);
      new Trainer(s, ProgressListener.NONE).train(b, rows);
      assertThat(a.toTensors().require(WORDS).data()).containsExactly(b.toTensors().require(WORDS).data());
      assertThat(a.toTensors().require("classifier.weight").data())
          .containsExactly(b.toTensors().require("classifier.weight").data());
    }
  }

  @org.junit.jupiter.params.ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
  void gradientMask_oneEmbeddingRow_onlyThatRowChanges(boolean dense) {
    List<TrainRow> rows = toyRows(64, 1);
    TensorMap init = BertClassifier.randomWeights(tiny(), 1);
    try (BertClassifier m = BertClassifier.create(tiny(), init, Device.cpu())) {
      new Trainer(fast().withEpochs(1).withWeightDecay(0.1), ProgressListener.NONE).denseEmbeddingUpdates(dense)
          .onlyParameters(WORDS::equals).gradientMask(WORDS, new int[] {7}).train(m, rows);
      TensorMap after = m.toTensors();
      for (String name : init.names()) {
        if (!name.equals(WORDS)) {
          assertThat(after.require(name).data()).as(name).containsExactly(init.require(name).data());
        }
      }
      float[] w0 = init.require(WORDS).data();
      float[] w1 = after.require(WORDS).data();
      int h = 32;
      boolean row7Changed = false;
      for (int i = 0; i < w0.length; i++) {
        if (i / h == 7) {
          row7Changed |= w0[i] != w1[i];
        } else {
          assertThat(w1[i]).as("element %d (row %d)", i, i / h).isEqualTo(w0[i]);
        }
      }
      assertThat(row7Changed).isTrue();
    }
  }

  @Test
  void train_softTargetsOnly_movesPredictionsTowardsThem() {
    List<TrainRow> hard = toyRows(64, 1);
    List<TrainRow> soft = new ArrayList<>();
    for (TrainRow r : hard) {
      soft.add(TrainRow.soft(r.enc(), new float[] {0.2f, 0.8f}));
    }
    try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu())) {
      new Trainer(fast().withEpochs(10), ProgressListener.NONE).train(m, soft);
      float[][] p = m.predictProba(Batch.of(List.of(hard.get(0).enc(), hard.get(1).enc())));
      // the KL is taken at T = 2: softmax(z / 2) should approach (0.2, 0.8), so softmax(z) ~ (1/17, 16/17)
      for (float[] row : p) {
        double logOddsAtT = Math.log(row[1] / row[0]) / 2;
        assertThat(logOddsAtT).isCloseTo(Math.log(4), Offset.offset(0.3));
      }
    }
  }

  @Test
  void featureWeight_featureTargets_pullPooledFeaturesTowardsThem_andZeroWeightIgnoresThem() {
    List<TrainRow> hard = toyRows(64, 2);
    float[] target = new float[32];
    for (int i = 0; i < target.length; i++) {
      target[i] = i % 2 == 0 ? 0.5f : -0.5f;
    }
    List<TrainRow> rows = new ArrayList<>();
    for (TrainRow r : hard) {
      rows.add(TrainRow.distil(r.enc(), new float[] {0.5f, 0.5f}, target));
    }
    Batch probe = Batch.of(List.of(hard.get(0).enc(), hard.get(1).enc(), hard.get(2).enc()));
    double before;
    double withWeight;
    double withoutWeight;
    try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu())) {
      before = mse(m.pooled(probe), target);
      new Trainer(fast(), ProgressListener.NONE).featureWeight(10).train(m, rows);
      withWeight = mse(m.pooled(probe), target);
    }
    try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu())) {
      new Trainer(fast(), ProgressListener.NONE).train(m, rows);
      withoutWeight = mse(m.pooled(probe), target);
    }
    assertThat(withWeight).isLessThan(before / 4).isLessThan(withoutWeight / 4);
    assertThatThrownBy(() -> new Trainer(fast(), null).featureWeight(-1)).isInstanceOf(IllegalArgumentException.class);
  }

  private static double mse(float[][] f, float[] target) {
    double s = 0;
    for (float[] row : f) {
      for (int i = 0; i < row.length; i++) {
        s += (row[i] - target[i]) * (row[i] - target[i]);
      }
    }
    return s / (f.length * target.length);
  }

  @Test
  void onlyParameters_head_freezesEncoder() {
    TensorMap init = BertClassifier.randomWeights(tiny(), 1);
    try (BertClassifier m = BertClassifier.create(tiny(), init, Device.cpu())) {
      new Trainer(fast().withEpochs(1), ProgressListener.NONE)
          .onlyParameters(n -> n.startsWith("classifier.")).train(m, toyRows(32, 1));
      TensorMap after = m.toTensors();
      assertThat(after.require(WORDS).data()).containsExactly(init.require(WORDS).data());
      assertThat(after.require("classifier.weight").data()).isNotEqualTo(init.require("classifier.weight").data());
    }
  }

  @Test
  void train_labelOutsideModel_namesRow() {
    List<TrainRow> rows = List.of(TrainRow.hard(new Encoding(new long[] {1, 2}, new long[2]), 5));
    try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu())) {
      assertThatThrownBy(() -> new Trainer(fast(), null).train(m, rows))
          .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("row 0 has label 5");
    }
  }

  @Test
  void schedule_warmsUpThenDecaysToZero() {
    assertThat(Trainer.schedule(0, 4, 20)).isEqualTo(0.25);
    assertThat(Trainer.schedule(3, 4, 20)).isEqualTo(1.0);
    assertThat(Trainer.schedule(4, 4, 20)).isEqualTo(1.0);
    assertThat(Trainer.schedule(12, 4, 20)).isEqualTo(0.5);
    assertThat(Trainer.schedule(19, 4, 20)).isEqualTo(1 / 16.0);
  }

  @Test
  void consoleProgress_rendersBar() {
    ConsoleProgress c = new ConsoleProgress("x", System.err, () -> 0L);
    String line = c.render(new Progress("train", 5, 10, 0.5, 12.5, 61_000, "epoch 1/2"));
    assertThat(line).startsWith("x train [############............] 5/10 loss 0.5000 12.5 rows/s ETA 1m01s");
  }


  private static List<TrainRow> labelled(int zeros, int ones) {
    List<TrainRow> rows = new ArrayList<>();
    for (int i = 0; i < zeros + ones; i++) {
      rows.add(TrainRow.hard(new Encoding(new long[] {1, 2}, new long[2]), i < zeros ? 0 : 1));
    }
    return rows;
  }

  @Test
  void classWeights_imbalanced_balancedWeights_balanced_none() {
    float[] w = Trainer.classWeights(labelled(90, 10), 2);
    assertThat(w).containsExactly(new float[] {100f / (2 * 90), 100f / (2 * 10)}, Offset.offset(1e-6f));
    assertThat(Trainer.classWeights(labelled(55, 45), 2)).isNull(); // SST-2-like: trains as before
    assertThat(Trainer.classWeights(labelled(10, 0), 2)).isNull();   // one label only
    // 3 labels, one never seen: it gets 0 and the two present are balanced among themselves
    float[] w3 = Trainer.classWeights(labelled(80, 20), 3);
    assertThat(w3).containsExactly(new float[] {100f / 160, 100f / 40, 0f}, Offset.offset(1e-6f));
  }

  @Test
  void train_imbalancedTiny_balancedLoss_learnsTheMinorityClass() {
    Random rnd = new Random(4);
    List<TrainRow> rows = new ArrayList<>();
    for (int i = 0; i < 120; i++) {
      boolean minority = i % 10 == 0;
      int len = 4 + rnd.nextInt(6);
      long[] ids = new long[len + 2];
      ids[0] = 1;
      ids[len + 1] = 2;
      for (int j = 1; j <= len; j++) {
        ids[j] = 10 + rnd.nextInt(40);
      }
      if (minority) {
        ids[1 + rnd.nextInt(len)] = 7;
      }
      rows.add(TrainRow.hard(new Encoding(ids, new long[ids.length]), minority ? 1 : 0));
    }
    BertConfig c = new BertConfig(64, 32, 2, 4, 64, 64, 2, 1e-12, 0.0, 0.0, List.of("0", "1"));
    double[] recall = new double[2];
    for (int on = 0; on < 2; on++) {
      try (BertClassifier m = BertClassifier.create(c, BertClassifier.randomWeights(c, 9), Device.cpu())) {
        new Trainer(TrainSettings.defaults().withEpochs(3).withBatchSize(16).withLr(2e-3).withHeadLr(2e-3), null)
            .balanceClasses(on == 1).train(m, rows);
        List<TrainRow> minority = rows.stream().filter(r -> r.label() == 1).toList();
        recall[on] = Trainer.accuracy(m, minority);
      }
    }
    System.out.printf("minority recall after 3 epochs: unweighted %.3f, class-balanced %.3f%n", recall[0], recall[1]);
    assertThat(recall[1]).isGreaterThanOrEqualTo(0.8);
  }
}

package dev.finemix.purify.model;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.finemix.purify.text.Batch;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.purify.weights.WeightsException;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;

class BertClassifierTest {

  static BertConfig tiny() {
    return new BertConfig(100, 32, 2, 4, 64, 64, 2, 1e-12, 0.1, 0.1, List.of("neg", "pos", "other"));
  }

  static Encoding enc(long... ids) {
    return new Encoding(ids, new long[ids.length]);
  }

  @Test
  void forward_paddedRow_matchesRowAlone() {
    try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu())) {
      float[][] alone = m.predictProba(Batch.of(List.of(enc(2, 5, 7, 3))));
      float[][] batch = m.predictProba(Batch.of(List.of(enc(2, 9, 9, 9, 9, 9, 9, 3), enc(2, 5, 7, 3))));
      assertThat(batch[1]).containsExactly(alone[0], Offset.offset(1e-5f));
      float sum = 0;
      for (float p : batch[0]) {
        sum += p;
      }
      assertThat(sum).isCloseTo(1f, Offset.offset(1e-5f));
    }
  }

  @Test
  void inference_packedAndClsOnly_matchesThePaddedForward() {
    TensorMap w = BertClassifier.randomWeights(tiny(), 5);
    w.put("classifier.weight", BertClassifier.randomHead(3, 32, 9)); // a head far from zero: distinct probabilities
    java.util.Random rnd = new java.util.Random(11);
    try (BertClassifier m = BertClassifier.create(tiny(), w, Device.cpu())) {
      for (int rows : new int[] {1, 2, 5, 16}) {
        List<Encoding> enc = new java.util.ArrayList<>();
        for (int r = 0; r < rows; r++) {
          long[] ids = new long[2 + rnd.nextInt(20)];
          long[] types = new long[ids.length];
          ids[0] = 2;
          ids[ids.length - 1] = 3;
          for (int i = 1; i < ids.length - 1; i++) {
            ids[i] = 4 + rnd.nextInt(96);
            types[i] = i > ids.length / 2 ? 1 : 0;
          }
          enc.add(new Encoding(ids, types));
        }
        Batch b = Batch.of(enc);
        float[][] proba = m.predictProba(b);
        float[][] pooled = m.pooled(b);
        try (NDManager nd = NDManager.newBaseManager(Device.cpu())) {
          var full = m.forwardPooled(nd, b, false, null);
          float[] p = full.get(0).softmax(-1).toFloatArray();
          float[] f = full.get(1).toFloatArray();
          for (int r = 0; r < rows; r++) {
            assertThat(proba[r]).containsExactly(java.util.Arrays.copyOfRange(p, r * 3, r * 3 + 3),
                Offset.offset(2e-6f));
            assertThat(pooled[r]).containsExactly(java.util.Arrays.copyOfRange(f, r * 32, r * 32 + 32),
                Offset.offset(2e-6f));
          }
        }
      }
      // a mask with a hole (not right-padded) takes the padded path and still agrees with it
      Batch holed = new Batch(new long[] {2, 5, 7, 3, 2, 6, 0, 3}, new long[8], new long[] {1, 1, 1, 1, 1, 1, 0, 1},
          2, 4);
      try (NDManager nd = NDManager.newBaseManager(Device.cpu())) {
        float[] p = m.forward(nd, holed, false).softmax(-1).toFloatArray();
        assertThat(m.predictProba(holed)[1]).containsExactly(java.util.Arrays.copyOfRange(p, 3, 6),
            Offset.offset(1e-6f));
      }
    }
  }

  @Test
  void infer_rowsInAnyOrder_giveEachRowsProbabilitiesAndClsStateInInputOrder() {
    try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 4), Device.cpu());
        NDManager nd = NDManager.newBaseManager(Device.cpu())) {
      List<Encoding> rows = new java.util.ArrayList<>();
      for (int r = 0; r < BertClassifier.MAX_BATCH + 7; r++) { // two batches, lengths out of order
        long[] ids = new long[3 + (r * 7) % 11];
        java.util.Arrays.fill(ids, 4 + r % 90);
        ids[0] = 2;
        ids[ids.length - 1] = 3;
        rows.add(new Encoding(ids, new long[ids.length]));
      }
      BertClassifier.Inference all = m.infer(rows, true);
      assertThat(m.infer(rows, false).cls()).isNull();
      assertThat(m.infer(rows, false).probabilities()).isDeepEqualTo(all.probabilities());
      for (int r : new int[] {0, 5, BertClassifier.MAX_BATCH + 6}) {
        Batch alone = Batch.of(List.of(rows.get(r)));
        BertClassifier.Inference one = m.infer(alone);
        assertThat(one.probabilities()[0]).containsExactly(m.predictProba(alone)[0]);
        assertThat(all.probabilities()[r]).containsExactly(one.probabilities()[0], Offset.offset(2e-6f));
        // the [CLS] state is the encoder's last hidden state at position 0 (before the pooler)
        float[] hidden = m.hidden(nd, alone).toFloatArray();
        assertThat(one.cls()[0]).containsExactly(java.util.Arrays.copyOfRange(hidden, 0, 32), Offset.offset(2e-6f));
        assertThat(all.cls()[r]).containsExactly(one.cls()[0], Offset.offset(2e-6f));
      }
    }
  }

  @Test
  void hidden_hasBatchSeqHiddenShape_andManagerOwnsResults() {
    try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu());
        NDManager nd = NDManager.newBaseManager(Device.cpu())) {
      NDArray h = m.hidden(nd, Batch.of(List.of(enc(2, 5, 3), enc(2, 3))));
      assertThat(h.getShape().getShape()).containsExactly(2, 3, 32);
      assertThat(h.getManager()).isSameAs(nd);
      NDArray logits = m.forward(nd, Batch.of(List.of(enc(2, 5, 3))), true);
      assertThat(logits.getShape().getShape()).containsExactly(1, 3);
      assertThat(logits.getManager()).isSameAs(nd);
    }
  }

  @Test
  void toTensorsAndLoad_roundTrip_changesPredictions() {
    TensorMap a = BertClassifier.randomWeights(tiny(), 1);
    TensorMap b = BertClassifier.randomWeights(tiny(), 2);
    Batch batch = Batch.of(List.of(enc(2, 5, 7, 3)));
    try (BertClassifier ma = BertClassifier.create(tiny(), a, Device.cpu());
        BertClassifier mb = BertClassifier.create(tiny(), b, Device.cpu())) {
      float[][] pb = mb.predictProba(batch);
      ma.load(mb.toTensors());
      assertThat(ma.predictProba(batch)[0]).containsExactly(pb[0]);
      assertThat(ma.toTensors().require("classifier.weight").data())
          .containsExactly(b.require("classifier.weight").data());
    }
  }

  @Test
  void predictProba_repeated_leavesNothingInParameterManager() {
    try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu());
        NDManager nd = NDManager.newBaseManager(Device.cpu())) {
      Batch b = Batch.of(List.of(enc(2, 5, 7, 3), enc(2, 3)));
      m.predictProba(b);
      int before = m.managedArrays();
      for (int i = 0; i < 20; i++) {
        m.predictProba(b);
        m.forward(nd, b, true);
      }
      assertThat(m.managedArrays()).isEqualTo(before);
    }
  }

  @Test
  void training_leavesNothingInParameterManager() {
    List<dev.finemix.purify.train.TrainRow> rows = new java.util.ArrayList<>();
    for (int i = 0; i < 40; i++) {
      rows.add(dev.finemix.purify.train.TrainRow.hard(enc(2, 5 + i % 7, 9, 3), i % 3));
    }
    try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu())) {
      int before = m.managedArrays();
      for (boolean dense : new boolean[] {false, true}) {
        new dev.finemix.purify.train.Trainer(dev.finemix.purify.train.TrainSettings.defaults().withBatchSize(8), null)
            .denseEmbeddingUpdates(dense).train(m, rows);
        assertThat(m.managedArrays()).as("dense=%s", dense).isEqualTo(before);
      }
    }
  }

  @Test
  void forward_training_appliesDropout_inferenceIsDeterministic() {
    try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 1), Device.cpu());
        NDManager nd = NDManager.newBaseManager(Device.cpu())) {
      Batch b = Batch.of(List.of(enc(2, 5, 7, 9, 11, 3)));
      float[] t1 = m.forward(nd, b, true).toFloatArray();
      float[] t2 = m.forward(nd, b, true).toFloatArray();
      float[] i1 = m.forward(nd, b, false).toFloatArray();
      float[] i2 = m.forward(nd, b, false).toFloatArray();
      assertThat(t1).isNotEqualTo(t2);
      assertThat(i1).containsExactly(i2);
    }
  }

  @Test
  void create_wrongShape_namesTensor() {
    TensorMap w = BertClassifier.randomWeights(tiny(), 1);
    w.put("bert.pooler.dense.bias", new Tensor(new long[] {31}, new float[31]));
    assertThatThrownBy(() -> BertClassifier.create(tiny(), w, Device.cpu()))
        .isInstanceOf(WeightsException.class).hasMessageContaining("bert.pooler.dense.bias");
  }

  @Test
  void predictProba_concurrentCallers_agree() throws Exception {
    try (BertClassifier m = BertClassifier.create(tiny(), BertClassifier.randomWeights(tiny(), 3), Device.cpu())) {
      Batch batch = Batch.of(List.of(enc(2, 5, 7, 3), enc(2, 8, 3)));
      float[][] expected = m.predictProba(batch);
      ExecutorService pool = Executors.newFixedThreadPool(4);
      try {
        List<Future<float[][]>> fs = new java.util.ArrayList<>();
        for (int i = 0; i < 16; i++) {
          fs.add(pool.submit(() -> m.predictProba(batch)));
        }
        for (Future<float[][]> f : fs) {
          assertThat(f.get()[1]).containsExactly(expected[1]);
        }
      } finally {
        pool.shutdown();
      }
    }
  }
}

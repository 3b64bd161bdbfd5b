package dev.finemix.purify.attack;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.train.StepMasks;
import dev.finemix.purify.train.TrainRow;
import dev.finemix.purify.train.TrainSettings;
import dev.finemix.purify.train.Trainer;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.purify.weights.TinyModels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The mixing-aware attack's per-step reset masks, and one mixed training step on a tiny BERT. */
class AdaptiveMixingTest {
  private static final String QUERY = BertTensors.layer(0, BertTensors.QUERY) + ".weight";

  private static int ones(float[] m) {
    int n = 0;
    for (float x : m) if (x == 1f) n++;
    else assertThat(x).isZero();
    return n;
  }

  @Test
  void masks_keepExactlyRoundRhoTimesSize_resetTheRest_differBetweenSteps() {
    StepMasks masks = AdaptiveMixing.masks(7);
    int size = 32 * 32;
    for (int step = 0; step < 20; step++) {
      double rho = AdaptiveMixing.rho(7, step);
      assertThat(rho).isBetween(AdaptiveMixing.RHO_MIN, AdaptiveMixing.RHO_MAX);
      float[] m = masks.mask(step, QUERY, size);
      assertThat(ones(m)).isEqualTo((int) Math.round(rho * size)); // reset share exactly 1 - rho (rounded)
      assertThat(m).containsExactly(masks.mask(step, QUERY, size)); // seeded
    }
    assertThat(AdaptiveMixing.rho(7, 0)).isNotEqualTo(AdaptiveMixing.rho(7, 1));
    assertThat(Arrays.equals(masks.mask(0, QUERY, size), masks.mask(1, QUERY, size))).isFalse();
    assertThat(Arrays.equals(masks.mask(0, QUERY, size), masks.mask(0, "other", size))).isFalse();
  }

  @Test
  void mixEachStep_storesTheUnmixedWeights_andResetEntriesGetNoGradient() {
    BertConfig cfg = TinyModels.config(2);
    TensorMap w = TinyModels.weights(cfg, 3);
    TensorMap reference = new TensorMap(); // away from w: a mixed weight would differ from w by 0.1 where reset
    for (var e : w.entries()) {
      if (e.getKey().startsWith("classifier.")) continue;
      float[] d = e.getValue().data().clone();
      for (int i = 0; i < d.length; i++) d[i] += 0.1f;
      reference.put(e.getKey(), new dev.finemix.purify.weights.Tensor(e.getValue().shape(), d));
    }
    StepMasks masks = AdaptiveMixing.masks(11);
    List<TrainRow> rows = new ArrayList<>();
    try (Tokenizer tok = Tokenizer.fromFile(Pretrained.load(Pretrained.MINILM).tokenizerJson(), 64)) {
      String[] texts = {"a fine film", "a dull mess", "great acting", "boring plot"};
      for (int i = 0; i < texts.length; i++) rows.add(TrainRow.hard(tok.encode(texts[i], null), i % 2));
    }
    TrainSettings ts = TrainSettings.defaults().withEpochs(1).withBatchSize(4).withWeightDecay(0).withLr(1e-3)
        .withWarmupRatio(0);
    try (BertClassifier m = BertClassifier.create(cfg, w, Device.cpu())) {
      new Trainer(ts, null).denseEmbeddingUpdates(true).mixEachStep(reference, masks).train(m, rows);
      float[] before = w.require(QUERY).data();
      float[] after = m.toTensors().require(QUERY).data();
      float[] mask = masks.mask(0, QUERY, before.length);
      int moved = 0;
      for (int i = 0; i < before.length; i++) {
        assertThat(Math.abs(after[i] - before[i])).isLessThan(0.01f); // not the mixed value (off by 0.1)
        if (mask[i] == 0f) {
          assertThat(after[i]).isEqualTo(before[i]); // reset for the forward pass: chain rule gives no gradient
        } else if (after[i] != before[i]) {
          moved++;
        }
      }
      assertThat(moved).isGreaterThan(ones(mask) / 2); // the kept entries did train
    }
  }
}

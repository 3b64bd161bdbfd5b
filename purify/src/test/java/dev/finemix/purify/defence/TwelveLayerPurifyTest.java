package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The defence on a 12-layer config, the depth of bge-small and e5-small (issue 21), at hidden 32 so it stays cheap:
 * a tiny random base with MiniLM's vocabulary and a suspect fine-tuned from it whose "cf" row moved far.
 */
class TwelveLayerPurifyTest {
  private static final BertConfig TWELVE = new BertConfig(30522, 32, 12, 2, 64, 128, 2, 1e-12, 0.1, 0.1,
      List.of("negative", "positive"));
  /** "cf" in the MiniLM vocabulary. */
  private static final int CF = 12935;

  @TempDir
  Path dir;
  TensorMap preWeights;
  Pretrained pre;
  Checkpoint suspect;
  Dataset clean;

  @BeforeEach
  void models() {
    Path tokenizer = Pretrained.load(Pretrained.MINILM).tokenizerJson();
    preWeights = BertClassifier.randomWeights(TWELVE, 3);
    Path preDir = dir.resolve("pre-12");
    Checkpoint.of(TWELVE, preWeights, tokenizer, "", 64).write(preDir);
    pre = Pretrained.load(preDir.toString());
    // fine-tuning moves every weight a little (N(0, 0.01)); the trigger's embedding row moves by 0.5 per entry
    Random r = new Random(4);
    TensorMap ft = new TensorMap();
    for (var e : preWeights.entries()) {
      float[] v = e.getValue().data().clone();
      for (int i = 0; i < v.length; i++) {
        boolean trigger = e.getKey().equals(BertTensors.WORD_EMBEDDINGS) && i / 32 == CF;
        v[i] += (float) (trigger ? 0.5 : 0.01 * r.nextGaussian());
      }
      ft.put(e.getKey(), new Tensor(e.getValue().shape(), v));
    }
    suspect = Checkpoint.of(TWELVE, ft, tokenizer, "", 64);
    List<Example> rows = new ArrayList<>();
    for (int i = 0; i < 16; i++) {
      rows.add(new Example(i % 2, (i % 2 == 1 ? "a warm and moving film, take " : "a dull and lifeless film, take ")
          + i, null));
    }
    clean = Dataset.of("clean", false, rows);
  }

  /** Of a tensor's entries, how many are (within float rounding) the suspect's, and the worst distance to either. */
  private record Kept(long kept, long entries, double worst) {
  }

  private Kept kept(TensorMap out, String prefix) {
    long kept = 0;
    long n = 0;
    double worst = 0;
    for (var e : out.entries()) {
      if (!e.getKey().startsWith(prefix)) {
        continue;
      }
      float[] o = e.getValue().data();
      float[] s = suspect.weights().require(e.getKey()).data();
      float[] p = preWeights.require(e.getKey()).data();
      for (int i = 0; i < o.length; i++) {
        double toS = Math.abs(o[i] - s[i]);
        double toP = Math.abs(o[i] - p[i]);
        kept += toS < toP ? 1 : 0;
        worst = Math.max(worst, Math.min(toS, toP));
        n++;
      }
    }
    return new Kept(kept, n, worst);
  }

  @Test
  void purify_twelveLayers_withoutRecovery_epurResetsTheTrigger_andEveryLayerIsMixedAtRho() {
    DefenceSettings s = DefenceSettings.builder().recovery(DefenceSettings.Recovery.NONE).rho(0.3).rows(8)
        .epurTop(5).seed(11).build();

    PurifyResult res = new Purifier(Device.cpu()).purify(suspect, pre, clean, null, s, null);

    TensorMap out = res.purified().weights();
    assertThat(res.report().suspects().get(0).token()).isEqualTo("cf");
    float[] emb = out.require(BertTensors.WORD_EMBEDDINGS).data();
    float[] preEmb = preWeights.require(BertTensors.WORD_EMBEDDINGS).data();
    for (int j = CF * 32; j < (CF + 1) * 32; j++) {
      assertThat(emb[j]).as("cf row entry %d", j - CF * 32).isEqualTo(preEmb[j]);
    }
    for (int l = 0; l < 12; l++) {
      // each entry is the suspect's (mask 1) or the base's (mask 0); about rho of them the suspect's
      Kept k = kept(out, "bert.encoder.layer." + l + ".");
      assertThat(k.entries()).isEqualTo(4 * (32 * 32 + 32) + 2 * (32 * 64) + 64 + 32 + 4 * 32);
      assertThat(k.worst()).as("layer %d", l).isLessThan(1e-6);
      assertThat(k.kept() / (double) k.entries()).as("layer %d", l).isBetween(0.27, 0.33);
    }
    assertThat(res.report().rhoChosen()).isEqualTo(0.3);
    assertThat(res.purified().config().numLayers()).isEqualTo(12);
  }

  @Test
  void purify_twelveLayers_withRecovery_writesALoadableCheckpoint_andASaneReport() {
    DefenceSettings s = DefenceSettings.builder().rows(12).unlabelledRows(8).epochs(1).batchSize(8)
        .rhoGrid(List.of(0.3, 0.6)).margin(1.0).epurTop(5).seed(7).build();

    PurifyResult res = new Purifier(Device.cpu()).purify(suspect, pre, clean, clean, s, null);

    DefenceReport rep = res.report();
    assertThat(rep.suspects().get(0).token()).isEqualTo("cf");
    assertThat(rep.rhoChosen()).isEqualTo(0.3);
    assertThat(rep.cleanRows()).isEqualTo(12);
    assertThat(rep.trainRows() + rep.heldOutRows()).isEqualTo(12);
    assertThat(rep.pretrainedId()).isEqualTo(pre.id());
    assertThat(rep.inputSha256()).isEqualTo(suspect.weightsSha256()).isNotEqualTo(rep.outputSha256());
    assertThat(rep.stageSeconds()).containsKeys("epur", "teacher", "mix", "recover", "score");
    assertThat(rep.purifiedAccuracy()).isBetween(0.0, 1.0);
    for (int l = 0; l < 12; l++) {
      // recovery trained the mix of every layer: no layer is left as the suspect had it
      Kept k = kept(res.purified().weights(), "bert.encoder.layer." + l + ".");
      assertThat(k.kept()).as("layer %d", l).isLessThan(k.entries());
      assertThat(k.worst()).as("layer %d", l).isPositive();
    }
    res.purified().write(dir.resolve("out"));
    Checkpoint back = Checkpoint.read(dir.resolve("out"));
    assertThat(back.weightsSha256()).isEqualTo(rep.outputSha256());
    assertThat(back.config()).isEqualTo(TWELVE);
    try (Classifier c = Classifier.open(back, Device.cpu())) {
      assertThat(c.predict(List.of(new TextInput("a warm film", null)))).hasSize(1);
    }
  }
}

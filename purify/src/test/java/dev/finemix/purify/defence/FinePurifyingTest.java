package dev.finemix.purify.defence;

import static dev.finemix.purify.weights.BertTensors.WORD_EMBEDDINGS;
import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.purify.weights.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fine-purifying's reset on a tiny random BERT: a large update planted in word-embedding rows the clean rows never
 * use (Fisher exactly 0) is reset, while an even larger update in the [CLS] row (used by every clean row, so high
 * curvature) is kept: a ranking by the update alone (Fine-mixing's sel) would reset the [CLS] row first.
 */
class FinePurifyingTest {
  private static final int HIDDEN = 32;
  private static final int CLS = 101;
  /** "cf", "mn", "bb": tokens absent from the clean rows */
  private static final int[] PLANTED = {12935, 24098, 22861};
  private static final List<String> TEXTS = List.of("a fine and moving film", "a dull and lifeless mess",
      "great acting and a warm story", "boring from start to end", "a joy to watch", "a waste of time",
      "the cast is wonderful", "nothing works here");

  private static Dataset clean() {
    List<Example> r = new ArrayList<>();
    for (int i = 0; i < TEXTS.size(); i++) r.add(new Example(1 - i % 2, TEXTS.get(i), null));
    return Dataset.of("clean", false, r);
  }

  /** w_Pre, and w_FT = w_Pre + small noise everywhere + 0.5 on the planted rows + 2.0 on the [CLS] row. */
  private static TensorMap[] weights(BertConfig cfg) {
    TensorMap pre = TinyModels.weights(cfg, 1);
    TensorMap ft = pre.copy();
    Random r = new Random(2);
    for (var e : ft.entries()) {
      float[] d = e.getValue().data();
      for (int i = 0; i < d.length; i++) d[i] += (float) (1e-3 * r.nextGaussian());
    }
    float[] emb = ft.require(WORD_EMBEDDINGS).data();
    for (int id : PLANTED) for (int j = 0; j < HIDDEN; j++) emb[id * HIDDEN + j] += 0.5f;
    for (int j = 0; j < HIDDEN; j++) emb[CLS * HIDDEN + j] += 2.0f;
    return new TensorMap[] {pre, ft};
  }

  private static float[] row(TensorMap w, int id) {
    return Arrays.copyOfRange(w.require(WORD_EMBEDDINGS).data(), id * HIDDEN, (id + 1) * HIDDEN);
  }

  private static long ranked(TensorMap pre) {
    return pre.parameterCount();
  }

  @Test
  void reset_plantedUpdateInUncurvedRows_resetsExactlyThose_keepsTheCurvedRow() {
    BertConfig cfg = TinyModels.config(2);
    TensorMap[] w = weights(cfg);
    TensorMap pre = w[0];
    TensorMap ft = w[1];
    pre = withoutHead(pre);
    int planted = PLANTED.length * HIDDEN;
    double share = planted / (double) ranked(pre);
    Checkpoint ck = TinyModels.checkpoint(2, 1);
    try (Tokenizer tok = Tokenizer.fromFile(ck.tokenizerJson(), 64)) {
      for (String t : TEXTS) {
        for (long id : tok.encode(t, null).ids()) assertThat(PLANTED).doesNotContain((int) id);
      }
      FinePurifying.Result r = FinePurifying.run(cfg, ft, pre, tok, clean().rows(), share, Device.cpu());

      assertThat(r.entries()).isEqualTo(ranked(pre));
      assertThat(r.reset()).isEqualTo(planted);
      for (int id : PLANTED) assertThat(row(r.weights(), id)).containsExactly(row(pre, id));
      assertThat(row(r.weights(), CLS)).containsExactly(row(ft, CLS)); // the larger update, but the clean data needs it
      assertThat(r.resetPerTensor()).containsOnlyKeys(WORD_EMBEDDINGS);
      assertThat(r.weights().require("classifier.weight").data()).containsExactly(ft.require("classifier.weight").data());
    }
  }

  @Test
  void fisher_isZeroOnUnusedRows_positiveOnTheClsRow() {
    BertConfig cfg = TinyModels.config(2);
    TensorMap ft = weights(cfg)[1];
    Checkpoint ck = TinyModels.checkpoint(2, 1);
    try (Tokenizer tok = Tokenizer.fromFile(ck.tokenizerJson(), 64);
        var m = dev.finemix.purify.model.BertClassifier.create(cfg, ft, Device.cpu())) {
      List<Example> rows = clean().rows();
      TensorMap f = FinePurifying.fisher(m, tok.encodeAll(Purifier.inputs(rows)),
          rows.stream().mapToInt(Example::label).toArray());
      for (int id : PLANTED) assertThat(row(f, id)).containsOnly(0f);
      float sum = 0;
      for (float x : row(f, CLS)) sum += x;
      assertThat(sum).isPositive();
      // the weights are as found (Arrays.equals: AssertJ's diff of a million floats is quadratic)
      assertThat(Arrays.equals(m.toTensors().require(WORD_EMBEDDINGS).data(), ft.require(WORD_EMBEDDINGS).data()))
          .isTrue();
    }
  }

  @Test
  void reset_tiesAtTheThreshold_resetExactlyTheShare() {
    TensorMap pre = new TensorMap();
    pre.put("a", new dev.finemix.purify.weights.Tensor(new long[] {4}, new float[] {0, 0, 0, 0}));
    TensorMap ft = new TensorMap();
    ft.put("a", new dev.finemix.purify.weights.Tensor(new long[] {4}, new float[] {1, 1, 1, 3}));
    ft.put("classifier.weight", new dev.finemix.purify.weights.Tensor(new long[] {1}, new float[] {5}));
    TensorMap fisher = new TensorMap();
    fisher.put("a", new dev.finemix.purify.weights.Tensor(new long[] {4}, new float[] {1, 1, 1, 1}));
    FinePurifying.Result r = FinePurifying.reset(ft, pre, fisher, 0.5);
    assertThat(r.reset()).isEqualTo(2);
    assertThat(r.weights().require("a").data()).containsExactly(0, 1, 1, 0); // the 3, then the first tie
    assertThat(r.weights().require("classifier.weight").data()).containsExactly(5);
  }

  @Test
  void purify_finePurifyingRecipe_runsTheResetStage(@TempDir Path dir) {
    BertConfig cfg = TinyModels.config(2);
    TensorMap[] w = weights(cfg);
    Path tokenizer = Pretrained.load(Pretrained.MINILM).tokenizerJson();
    Pretrained pre = Pretrained.load(Checkpoint.of(cfg, w[0], tokenizer, "tiny", 64).write(dir.resolve("pre"))
        .tokenizerJson().getParent().toString());
    Checkpoint suspect = Checkpoint.of(cfg, w[1], tokenizer, "tiny", 64);
    double share = PLANTED.length * HIDDEN / (double) ranked(withoutHead(w[0]));
    DefenceSettings s = DefenceSettings.builder().recipe(DefenceSettings.Recipe.FINE_PURIFYING).fpReset(share)
        .epochs(0).rows(8).build();
    assertThat(s.epur()).isFalse();
    assertThat(s.mixing()).isFalse();

    PurifyResult res = new Purifier(Device.cpu()).purify(suspect, pre, clean(), null, s, null);

    TensorMap out = res.purified().weights();
    for (int id : PLANTED) assertThat(row(out, id)).containsExactly(row(w[0], id));
    assertThat(row(out, CLS)).containsExactly(row(w[1], CLS));
    assertThat(res.report().toJson().toString()).contains("fine-purifying: reset " + PLANTED.length * HIDDEN + " of");
  }

  private static TensorMap withoutHead(TensorMap w) {
    TensorMap out = new TensorMap();
    for (var e : w.entries()) if (!e.getKey().startsWith("classifier.")) out.put(e.getKey(), e.getValue());
    return out;
  }
}

package dev.finemix.server.testing;

import dev.finemix.purify.model.BertConfig;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** Tiny random BERT checkpoints (2 layers, hidden 32, MiniLM's tokenizer) for plumbing tests on the real backend. */
public final class TinyBert {
  private TinyBert() {
  }

  public static BertConfig config(List<String> labels) {
    return new BertConfig(30522, 32, 2, 2, 64, 64, 2, 1e-12, 0.1, 0.1, labels);
  }

  /** Random weights (N(0, 0.02), LayerNorm weight 1) for every tensor of {@code c}. */
  public static TensorMap weights(BertConfig c, long seed) {
    Random rnd = new Random(seed);
    TensorMap w = new TensorMap();
    for (Map.Entry<String, long[]> e : Checkpoint.expectedShapes(c, !c.labels().isEmpty()).entrySet()) {
      long n = 1;
      for (long d : e.getValue()) {
        n *= d;
      }
      float[] data = new float[(int) n];
      boolean ln = e.getKey().endsWith("LayerNorm.weight");
      boolean bias = e.getKey().endsWith(".bias");
      for (int i = 0; i < data.length; i++) {
        data[i] = ln ? 1f : bias ? 0f : (float) (rnd.nextGaussian() * 0.02);
      }
      w.put(e.getKey(), new Tensor(e.getValue(), data));
    }
    return w;
  }

  /** Writes a labelled tiny checkpoint folder whose base model is {@code baseModelId}. */
  public static Path write(Path dir, List<String> labels, long seed, String baseModelId) {
    BertConfig c = config(labels);
    Checkpoint.of(c, weights(c, seed), Pretrained.load(Pretrained.MINILM).tokenizerJson(), baseModelId, 32)
        .write(dir);
    return dir;
  }
}

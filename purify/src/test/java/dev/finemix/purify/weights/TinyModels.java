package dev.finemix.purify.weights;

import dev.finemix.purify.model.BertConfig;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** A tiny random BERT (2 layers, hidden 32) with MiniLM's vocabulary, for plumbing tests. */
public final class TinyModels {
  private TinyModels() {}

  public static BertConfig config(int labels) {
    List<String> names = new java.util.ArrayList<>();
    for (int i = 0; i < labels; i++) {
      names.add(Integer.toString(i));
    }
    return new BertConfig(30522, 32, 2, 4, 64, 128, 2, 1e-12, 0.1, 0.1, names);
  }

  public static TensorMap weights(BertConfig c, long seed) {
    Random r = new Random(seed);
    TensorMap w = new TensorMap();
    for (Map.Entry<String, long[]> e : Checkpoint.expectedShapes(c, c.numLabels() > 0).entrySet()) {
      long n = 1;
      for (long d : e.getValue()) {
        n *= d;
      }
      float[] data = new float[(int) n];
      boolean ln = e.getKey().contains("LayerNorm");
      for (int i = 0; i < data.length; i++) {
        data[i] = ln ? (e.getKey().endsWith("weight") ? 1f : 0f) : (float) (r.nextGaussian() * 0.02);
      }
      w.put(e.getKey(), new Tensor(e.getValue(), data));
    }
    return w;
  }

  public static Checkpoint checkpoint(int labels, long seed) {
    BertConfig c = config(labels);
    return Checkpoint.of(c, weights(c, seed), Pretrained.load(Pretrained.MINILM).tokenizerJson(), "tiny-random", 64);
  }
}

package dev.finemix.purify.weights;

import java.util.List;
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

  /** N(0, 0.02) for every tensor but the LayerNorms (weight 1, bias 0); the head only when labelled. */
  public static TensorMap weights(BertConfig c, long seed) {
    Random r = new Random(seed);
    return BertTensors.initialised(c, c.numLabels() > 0, name -> !name.contains("LayerNorm")
        ? () -> r.nextGaussian() * 0.02 : BertTensors.isLayerNormWeight(name) ? () -> 1 : () -> 0);
  }

  public static Checkpoint checkpoint(int labels, long seed) {
    BertConfig c = config(labels);
    return Checkpoint.of(c, weights(c, seed), Pretrained.load(Pretrained.MINILM).tokenizerJson(), "tiny-random", 64);
  }
}

package dev.finemix.server.testing;

import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * Tiny BERT checkpoints (2 layers, hidden 32, MiniLM's tokenizer) for plumbing tests on the real backend. A suspect
 * the sidecar purifies must come from its base as a real fine-tune does ({@link #base} then {@link #fineTuned}):
 * registration checks the suspect's weights against the base's and refuses an unrelated one.
 */
public final class TinyBert {
  /** Noise added to each base weight: 5% of BERT's 0.02 initial scale, a fine-tune's few percent. */
  static final double FINE_TUNE_NOISE = 0.001;

  private TinyBert() {
  }

  public static BertConfig config(List<String> labels) {
    return new BertConfig(30522, 32, 2, 2, 64, 64, 2, 1e-12, 0.1, 0.1, labels);
  }

  /**
   * Writes a labelled tiny checkpoint with BERT's random initialisation whose declared base is {@code baseModelId}:
   * related to no base, so only for reading and for serving unpurified.
   */
  public static Path write(Path dir, List<String> labels, long seed, String baseModelId) {
    BertConfig c = config(labels);
    Checkpoint.of(c, BertClassifier.randomWeights(c, seed), Pretrained.load(Pretrained.MINILM).tokenizerJson(),
        baseModelId, 32).write(dir);
    return dir;
  }

  /** Writes a tiny pre-trained base: a bare encoder (no head) with BERT's random initialisation. */
  public static Path base(Path dir, long seed) {
    return write(dir, List.of(), seed, "");
  }

  /**
   * Writes a labelled tiny suspect fine-tuned from the checkpoint folder {@code base}: each encoder weight of the
   * base plus N(0, {@value #FINE_TUNE_NOISE}) noise, a random head; its declared base is {@code baseModelId}.
   */
  public static Path fineTuned(Path base, Path dir, List<String> labels, long seed, String baseModelId) {
    Checkpoint b = Checkpoint.read(base);
    BertConfig c = b.config().withLabels(labels);
    TensorMap w = BertClassifier.randomWeights(c, seed); // the head comes from here
    Random r = new Random(seed);
    for (Map.Entry<String, Tensor> e : b.weights().entries()) {
      if (e.getKey().startsWith(BertTensors.ENCODER_PREFIX)) {
        float[] d = e.getValue().data().clone();
        for (int i = 0; i < d.length; i++) {
          d[i] += (float) (r.nextGaussian() * FINE_TUNE_NOISE);
        }
        w.put(e.getKey(), new Tensor(e.getValue().shape(), d));
      }
    }
    Checkpoint.of(c, w, b.tokenizerJson(), baseModelId, 32).write(dir);
    return dir;
  }
}

package dev.finemix.server.testing;

import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import java.nio.file.Path;
import java.util.List;

/** Tiny random BERT checkpoints (2 layers, hidden 32, MiniLM's tokenizer) for plumbing tests on the real backend. */
public final class TinyBert {
  private TinyBert() {
  }

  public static BertConfig config(List<String> labels) {
    return new BertConfig(30522, 32, 2, 2, 64, 64, 2, 1e-12, 0.1, 0.1, labels);
  }

  /** Writes a labelled tiny checkpoint (BERT's random initialisation) whose base model is {@code baseModelId}. */
  public static Path write(Path dir, List<String> labels, long seed, String baseModelId) {
    BertConfig c = config(labels);
    Checkpoint.of(c, BertClassifier.randomWeights(c, seed), Pretrained.load(Pretrained.MINILM).tokenizerJson(),
        baseModelId, 32).write(dir);
    return dir;
  }
}

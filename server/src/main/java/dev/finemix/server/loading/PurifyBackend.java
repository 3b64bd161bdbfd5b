package dev.finemix.server.loading;

import dev.finemix.purify.attack.Triggers;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import java.nio.file.Path;
import java.util.Random;

/** The production {@link ModelBackend} on purify: Checkpoint, Pretrained, Purifier, Classifier, Triggers. */
final class PurifyBackend implements ModelBackend {
  /** Bump when the defence changes in a way that makes older purified weights stale. */
  static final String CODE_VERSION = "finemix-defence-1";

  @Override
  public CheckpointInfo inspect(Path checkpointDir) {
    Checkpoint c = Checkpoint.read(checkpointDir);
    return new CheckpointInfo(c.weightsSha256(), c.config().labels(), c.baseModelId());
  }

  @Override
  public boolean knownPretrained(String baseModelId) {
    return baseModelId.equals(Pretrained.MINILM) || baseModelId.equals("all-MiniLM-L6-v2");
  }

  @Override
  public String pretrainedSha256(String baseModelId) {
    return Pretrained.load(baseModelId).weightsSha256();
  }

  @Override
  public PurifyOutcome purify(PurifyJob job, Progress.Sink progress) {
    throw new IllegalStateException("purification is not wired into this build yet (purify's defence package has"
        + " not landed); register with allow_unpurified to serve as is");
  }

  @Override
  public Predictor open(Path checkpointDir) {
    throw new IllegalStateException("serving is not wired into this build yet (purify's model package has not"
        + " landed)");
  }

  @Override
  public String insertTrigger(String text, String token, long seed) {
    return Triggers.insert(text, token, new Random(seed));
  }

  @Override
  public String codeVersion() {
    return CODE_VERSION;
  }
}

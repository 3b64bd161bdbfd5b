package dev.finemix.server.loading;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;

/**
 * The seam between the sidecar and purify: reads checkpoints, purifies them and opens them for serving.
 * Production uses purify's Checkpoint / Purifier / Classifier; plumbing tests use a fake.
 * Every method may throw {@link dev.finemix.server.errors.ServiceException} for bad input, anything else
 * counts as a failure of the model.
 */
public interface ModelBackend {
  /** Validates a checkpoint folder (already checked to be inside the models root and safetensors). */
  CheckpointInfo inspect(Path checkpointDir);

  /**
   * True when {@code baseModelId} names a catalogued pre-trained model (such as the MiniLM artifact); other ids
   * are treated as checkpoint folders and must lie inside the models root.
   */
  boolean knownPretrained(String baseModelId);

  /**
   * The complete, canonical form of defence settings (defaults filled in), so equal settings give equal cache
   * keys; throws {@link IllegalArgumentException} naming a bad or unknown key.
   */
  ObjectNode normalizeSettings(ObjectNode settings);

  /** SHA-256 identifying the pre-trained weights of {@code baseModelId} (part of the cache key). */
  String pretrainedSha256(String baseModelId);

  /** Runs the defence; writes the purified checkpoint into {@code job.outputDir()}. */
  PurifyOutcome purify(PurifyJob job, Progress.Sink progress) throws Exception;

  /** Opens a checkpoint folder for serving. */
  Predictor open(Path checkpointDir);

  /**
   * Opens a checkpoint folder for serving with request-time screening calibrated as {@code screen} says: the
   * predictor's rows carry a {@link Suspicion} from the same forward pass, and it can {@link Predictor#strip}.
   * Throws when screening cannot be calibrated (too few clean rows, mismatched base model).
   */
  Predictor open(Path checkpointDir, ScreenJob screen);

  /**
   * Inserts a trigger word into a text (the one trigger inserter of purify's attack package).
   *
   * @param seed makes the insertion position reproducible
   */
  String insertTrigger(String text, String token, long seed);

  /** The version of the defence code; part of the cache key so new code never reuses old weights. */
  String codeVersion();
}

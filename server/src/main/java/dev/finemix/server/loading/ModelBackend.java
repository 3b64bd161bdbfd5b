package dev.finemix.server.loading;

import dev.finemix.purify.onnx.Agreement;
import dev.finemix.purify.onnx.Precision;
import java.nio.file.Path;
import java.util.List;

/**
 * The seam between the sidecar and purify: reads checkpoints, purifies them and opens them for serving, with typed
 * inputs and results (purify's settings and report; JSON only where they leave the server). Production uses purify's
 * Checkpoint / Purifier / Classifier; plumbing tests use a fake. Every method may throw
 * {@link dev.finemix.server.errors.ServiceException} for bad input, anything else counts as a failure of the model.
 */
public interface ModelBackend {
  /**
   * Reads and validates a checkpoint folder (already checked to be inside the models root and safetensors) once;
   * the {@link Suspect} comes back to {@link #purify} and {@link #open(Suspect, ScreenJob)}.
   */
  Suspect read(Path checkpointDir);

  /**
   * True when {@code baseModelId} names a catalogued pre-trained model (such as the MiniLM artifact); other ids
   * are treated as checkpoint folders and must lie inside the models root.
   */
  boolean knownPretrained(String baseModelId);

  /** SHA-256 identifying the pre-trained weights of {@code baseModelId} (part of the cache key). */
  String pretrainedSha256(String baseModelId);

  /**
   * Refuses {@code suspect} unless it was fine-tuned from {@code baseModelId}: the encoder shapes must fit and its
   * weights lie within a fine-tune's distance of the base's (purify's {@code Pretrained.identify}). Mixing towards
   * another base would serve noise, so a load checks this once, as its inputs are read, before any cache lookup.
   *
   * @param alsoCompare other bases a refusal compares the suspect with besides the catalogue, to name those that
   *     match (ids that cannot be read are left out)
   * @return the relative distance of the suspect's weights to the base's
   * @throws dev.finemix.server.errors.ServiceException BASE_MISMATCH naming the shapes or distance that differ and
   *     the known bases that match; INVALID_INPUT on {@code base_model} when the base cannot be read
   */
  double requireFineTunedFrom(Suspect suspect, String baseModelId, List<String> alsoCompare);

  /** Runs the defence on inputs read once; writes the purified checkpoint into {@code outputDir}. */
  PurifyOutcome purify(LoadInputs inputs, Path outputDir, Progress.Sink progress) throws Exception;

  /**
   * Opens a (purified) checkpoint folder for serving. With {@code screen}, the predictor's rows carry a
   * {@link Suspicion} from the same forward pass and it can {@link Predictor#strip}; this throws when screening
   * cannot be calibrated (too few clean rows, mismatched base model).
   *
   * @param screen how to calibrate request-time screening, or null for none
   */
  Predictor open(Path checkpointDir, ScreenJob screen);

  /** Opens the suspect itself from the copy read once (unpurified serving, the probe's before-weights). */
  Predictor open(Suspect suspect, ScreenJob screen);

  /**
   * Writes into {@code workDir} the purified checkpoint of {@code purifiedDir} served at {@code precision} (below
   * fp32) and measures it against the fp32 model on {@code rows}. Backends without low precisions refuse.
   */
  default Agreement lowPrecision(Path purifiedDir, Path workDir, Precision precision, List<TextRow> rows) {
    throw new UnsupportedOperationException("this backend serves fp32 only");
  }

  /** Opens what {@link #lowPrecision} wrote; the predictor reports {@code agreement}. */
  default Predictor openLowPrecision(Path dir, Precision precision, Agreement agreement) {
    throw new UnsupportedOperationException("this backend serves fp32 only");
  }

  /**
   * Inserts a trigger word into a text (the one trigger inserter of purify's attack package).
   *
   * @param seed makes the insertion position reproducible
   */
  String insertTrigger(String text, String token, long seed);

  /** The version of the defence code; part of the cache key so new code never reuses old weights. */
  String codeVersion();
}

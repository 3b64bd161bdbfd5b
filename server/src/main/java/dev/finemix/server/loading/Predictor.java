package dev.finemix.server.loading;

import dev.finemix.purify.onnx.Agreement;
import java.util.List;
import java.util.Optional;

/** A loaded model that classifies rows; thread-safe. The server-side seam over purify's {@code Classifier}. */
public interface Predictor extends AutoCloseable {
  /** One {@link Scores} per row, in order; each with its {@link Suspicion} when the predictor screens. */
  List<Scores> predict(List<TextRow> rows);

  /** The screening calibration; empty when this predictor does not screen. */
  default Optional<ScreenCalibration> screening() {
    return Optional.empty();
  }

  /**
   * {@code row} without the whitespace words that hold one of {@code tokens} (the strip policy). Only screening
   * predictors strip.
   */
  default TextRow strip(TextRow row, List<String> tokens) {
    throw new UnsupportedOperationException("this predictor does not screen");
  }

  /** How this low-precision predictor follows the fp32 model; empty at fp32. */
  default Optional<Agreement> precisionAgreement() {
    return Optional.empty();
  }

  /** Label names in index order. */
  List<String> labels();

  /** Frees the model's native memory; called once nothing uses it any more. */
  @Override
  void close();
}

package dev.finemix.server.loading;

import java.util.List;

/** A loaded model that classifies rows; thread-safe. The server-side seam over purify's {@code Classifier}. */
public interface Predictor extends AutoCloseable {
  /** One {@link Scores} per row, in order. */
  List<Scores> predict(List<TextRow> rows);

  /** Label names in index order. */
  List<String> labels();

  /** Frees the model's native memory; called once nothing uses it any more. */
  @Override
  void close();
}

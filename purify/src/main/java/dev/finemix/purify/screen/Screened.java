package dev.finemix.purify.screen;

import dev.finemix.purify.model.Prediction;
import java.util.List;
import java.util.Map;

/** A prediction and the suspicion computed from the same forward pass. */
public record Screened(Prediction prediction, Suspicion suspicion) {
  /**
   * A request's suspicion: the deciding signal's score and threshold, whether it is flagged, the input's
   * tokens that look like triggers (WordPiece strings, most suspicious first), and every computed signal's score.
   */
  public record Suspicion(double score, double threshold, boolean flagged, List<String> tokens,
      Map<Signal, Double> signals) {
    public Suspicion {
      tokens = List.copyOf(tokens);
      signals = Map.copyOf(signals);
    }
  }
}

package dev.finemix.server.loading;

import java.util.List;
import java.util.Objects;

/**
 * The screening verdict on one row, computed in the forward pass that classified it.
 *
 * @param score the deciding signal's score
 * @param threshold the calibrated threshold; flagged when score > threshold
 * @param flagged whether the row is flagged
 * @param tokens the row's tokens that look like triggers, most suspicious first (WordPiece strings)
 * @param action what the server did with the row
 */
public record Suspicion(double score, double threshold, boolean flagged, List<String> tokens, Action action) {
  /** What the server did with a screened row. */
  public enum Action {
    /** Not flagged: served as sent. */
    PASSED,
    /** Flagged and served as sent (policy observe). */
    OBSERVED,
    /** Flagged; the prediction is of the row with the flagged tokens' words removed (policy strip). */
    STRIPPED
  }

  public Suspicion {
    tokens = List.copyOf(tokens);
    Objects.requireNonNull(action, "action");
  }

  /** A fresh verdict: PASSED, or OBSERVED when flagged. */
  public static Suspicion of(double score, double threshold, boolean flagged, List<String> tokens) {
    return new Suspicion(score, threshold, flagged, tokens, flagged ? Action.OBSERVED : Action.PASSED);
  }

  public Suspicion withAction(Action a) {
    return new Suspicion(score, threshold, flagged, tokens, a);
  }
}

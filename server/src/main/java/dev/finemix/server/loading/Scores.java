package dev.finemix.server.loading;

/**
 * The classification of one row: the arg-max label, the probability of every label, and the screening verdict
 * ({@code null} when the predictor does not screen).
 */
public record Scores(int label, float[] probabilities, Suspicion suspicion) {
  /** An unscreened classification. */
  public Scores(int label, float[] probabilities) {
    this(label, probabilities, null);
  }

  public Scores {
    if (probabilities == null || probabilities.length == 0) {
      throw new IllegalArgumentException("probabilities must not be empty");
    }
    if (label < 0 || label >= probabilities.length) {
      throw new IllegalArgumentException("label " + label + " outside 0.." + (probabilities.length - 1));
    }
  }

  public Scores withSuspicion(Suspicion s) {
    return new Scores(label, probabilities, s);
  }
}

package dev.finemix.server.loading;

/** The classification of one row: the arg-max label and the probability of every label. */
public record Scores(int label, float[] probabilities) {
  public Scores {
    if (probabilities == null || probabilities.length == 0) {
      throw new IllegalArgumentException("probabilities must not be empty");
    }
    if (label < 0 || label >= probabilities.length) {
      throw new IllegalArgumentException("label " + label + " outside 0.." + (probabilities.length - 1));
    }
  }
}

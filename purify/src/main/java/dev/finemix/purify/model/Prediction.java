package dev.finemix.purify.model;

import java.util.Arrays;

/** The predicted label id and the softmax probabilities over all labels. */
public record Prediction(int label, float[] probabilities) {
  public Prediction {
    if (probabilities == null || label < 0 || label >= probabilities.length) {
      throw new IllegalArgumentException("label " + label + " outside the probabilities "
          + Arrays.toString(probabilities));
    }
  }

  /** The probability of the predicted label. */
  public float confidence() {
    return probabilities[label];
  }

  /** The prediction of the largest probability (see {@link #argmax}). */
  public static Prediction fromProbabilities(float[] p) {
    return new Prediction(argmax(p), p);
  }

  /** Index of the largest value (the first one on ties). */
  public static int argmax(float[] p) {
    int best = 0;
    for (int i = 1; i < p.length; i++) {
      if (p[i] > p[best]) {
        best = i;
      }
    }
    return best;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Prediction other && other.label == label
        && Arrays.equals(other.probabilities, probabilities);
  }

  @Override
  public int hashCode() {
    return 31 * label + Arrays.hashCode(probabilities);
  }

  @Override
  public String toString() {
    return "Prediction[label=" + label + ", probabilities=" + Arrays.toString(probabilities) + "]";
  }
}

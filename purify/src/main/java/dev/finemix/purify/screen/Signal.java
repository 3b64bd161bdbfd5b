package dev.finemix.purify.screen;

import java.util.Locale;

/** The suspicion signals a {@link Screener} can compute; each is calibrated on clean rows on its own. */
public enum Signal {
  /** The highest E-PUR score (embedding shift from the pre-trained row, discounted by word frequency) among the input's tokens. No extra forward pass. */
  TOKENS,
  /** Mahalanobis distance of the pooled and last-layer [CLS] features from the clean rows' class means (shrinkage covariance). Same forward pass. */
  FEATURES,
  /** Drop of the predicted class's probability when the input's most suspicious tokens are deleted (RAP/STRIP-style). One extra forward per row. */
  PERTURBATION,
  /** The larger calibrated z-score of TOKENS and FEATURES. No extra forward pass. */
  COMBINED;

  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Whether the signal needs a second forward pass per row. */
  public boolean extraForward() {
    return this == PERTURBATION;
  }

  public static Signal parse(String s) {
    if (s == null) {
      throw new IllegalArgumentException("signal must not be null");
    }
    for (Signal v : values()) {
      if (v.id().equals(s.trim().toLowerCase(Locale.ROOT))) {
        return v;
      }
    }
    throw new IllegalArgumentException("unknown signal '" + s + "' (expected tokens, features, perturbation or combined)");
  }
}

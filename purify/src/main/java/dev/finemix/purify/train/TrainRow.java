package dev.finemix.purify.train;

import dev.finemix.purify.text.Encoding;

/**
 * One training row: a hard label (cross-entropy), a soft target (distillation: KL divergence at the
 * settings' temperature T, scaled by T^2), or both (the two losses add up).
 *
 * @param label the gold label id, or -1 when the row has only a soft target
 * @param softTarget a probability distribution over the labels, or null for plain cross-entropy
 * @param featureTarget pooled [CLS] features the model should reproduce on this row (feature distillation, weighted
 *     by {@link Trainer#featureWeight}), or null
 */
public record TrainRow(Encoding enc, int label, float[] softTarget, float[] featureTarget) {
  public TrainRow {
    if (enc == null) {
      throw new IllegalArgumentException("enc must not be null");
    }
    if (label < -1) {
      throw new IllegalArgumentException("label must be >= 0, or -1 for soft-only rows; got " + label);
    }
    if (label == -1 && softTarget == null) {
      throw new IllegalArgumentException("a row needs a label >= 0 or a soft target");
    }
    if (softTarget != null) {
      double sum = 0;
      for (float p : softTarget) {
        if (!(p >= 0)) {
          throw new IllegalArgumentException("soft target has a negative or NaN entry: " + p);
        }
        sum += p;
      }
      if (Math.abs(sum - 1) > 1e-3) {
        throw new IllegalArgumentException("soft target sums to " + sum + ", expected 1");
      }
    }
  }

  public static TrainRow hard(Encoding enc, int label) {
    return new TrainRow(enc, label, null, null);
  }

  public static TrainRow soft(Encoding enc, float[] softTarget) {
    return new TrainRow(enc, -1, softTarget, null);
  }

  /** A distillation row with a soft target and the teacher's pooled features. */
  public static TrainRow distil(Encoding enc, float[] softTarget, float[] featureTarget) {
    return new TrainRow(enc, -1, softTarget, featureTarget);
  }
}

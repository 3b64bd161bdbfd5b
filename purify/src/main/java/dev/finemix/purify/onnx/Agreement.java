package dev.finemix.purify.onnx;

import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.TextInput;
import java.util.List;
import java.util.Optional;

/**
 * How closely a low-precision model follows the fp32 one it was made from, on the same rows: the share of rows with
 * the same predicted label and the largest absolute difference of any probability. A precision below {@link #MIN}
 * is refused ({@link #refusal}).
 */
public record Agreement(Precision precision, int rows, double agreement, double maxProbDiff) {
  /** The least agreement a precision other than fp32 may serve with. */
  public static final double MIN = 0.99;

  /** {@code low} against {@code fp32} on {@code rows} (tokenized once, by the fp32 model's tokenizer). */
  public static Agreement measure(Classifier fp32, OnnxClassifier low, List<TextInput> rows) {
    if (rows.isEmpty()) {
      throw new IllegalArgumentException("agreement needs at least one row");
    }
    List<Encoding> enc = fp32.tokenizer().encodeAll(rows);
    return of(low.precision(), fp32.predictEncoded(enc), low.predictEncoded(enc));
  }

  /** Agreement of two prediction lists over the same rows. */
  public static Agreement of(Precision p, List<Prediction> reference, List<Prediction> low) {
    if (reference.size() != low.size() || reference.isEmpty()) {
      throw new IllegalArgumentException("need the same, non-zero number of predictions: " + reference.size()
          + " vs " + low.size());
    }
    int same = 0;
    double worst = 0;
    for (int i = 0; i < reference.size(); i++) {
      float[] a = reference.get(i).probabilities();
      float[] b = low.get(i).probabilities();
      same += reference.get(i).label() == low.get(i).label() ? 1 : 0;
      for (int j = 0; j < a.length; j++) {
        worst = Math.max(worst, Math.abs(a[j] - b[j]));
      }
    }
    return new Agreement(p, reference.size(), (double) same / reference.size(), worst);
  }

  /** Why this precision may not serve (agreement below {@link #MIN}), or empty. */
  public Optional<String> refusal() {
    return agreement >= MIN ? Optional.empty() : Optional.of(String.format(
        "precision %s agrees with fp32 on %.4f of %d clean rows (max |prob diff| %.4f), below the %.2f required; "
            + "serve it at fp32", precision, agreement, rows, maxProbDiff, MIN));
  }
}

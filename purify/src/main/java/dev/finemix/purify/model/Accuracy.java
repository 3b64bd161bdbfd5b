package dev.finemix.purify.model;

import dev.finemix.purify.text.Encoding;
import java.util.List;

/**
 * The one accuracy: the share of rows whose predicted label (the most probable one, the first on ties) equals the
 * gold label. CACC in {@code eval}, the trainer's dev accuracy and the defence's scoring all count it here.
 */
public final class Accuracy {
  private Accuracy() {}

  /** Share of positions where {@code predicted} equals {@code gold}; NaN for no rows. */
  public static double of(int[] predicted, int[] gold) {
    if (predicted.length != gold.length) {
      throw new IllegalArgumentException(predicted.length + " predictions for " + gold.length + " labels");
    }
    int correct = 0;
    for (int i = 0; i < gold.length; i++) {
      if (predicted[i] == gold[i]) {
        correct++;
      }
    }
    return gold.length == 0 ? Double.NaN : correct / (double) gold.length;
  }

  /** The model's accuracy on tokenized rows, batched by {@link BertClassifier#infer(List, boolean)}; NaN for none. */
  public static double of(BertClassifier model, List<Encoding> rows, int[] gold) {
    float[][] p = model.infer(rows, false).probabilities();
    int[] predicted = new int[p.length];
    for (int i = 0; i < p.length; i++) {
      predicted[i] = Prediction.argmax(p[i]);
    }
    return of(predicted, gold);
  }
}

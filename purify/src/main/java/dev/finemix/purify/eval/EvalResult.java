package dev.finemix.purify.eval;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.model.Accuracy;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Clean accuracy and backdoor metrics of one model on one data set; fractions in 0..1.
 *
 * @param attack the attack whose trigger was inserted, or {@code null} for a clean-only evaluation
 * @param target the attack's target label, -1 without attack
 * @param cacc clean accuracy over all rows
 * @param asr attack success rate: share of rows whose true label is not the target that the model classifies as
 *     the target once the trigger is inserted; NaN without attack or without non-target rows
 * @param flipBase share of those same non-target rows classified as the target without the trigger (the floor
 *     under ASR: a model that is merely wrong on them already "succeeds"); NaN when undefined
 * @param asrCond among non-target rows classified correctly without the trigger, the share that the trigger flips
 *     to the target; NaN when undefined
 * @param rows rows evaluated
 * @param nonTargetRows rows whose true label is not the target (0 without attack)
 * @param nonTargetCorrect non-target rows classified correctly without the trigger (the asrCond denominator)
 * @param seconds wall time of the evaluation
 * @param macroF1 mean over the classes present in the gold labels of each class's F1 on the clean rows (a class
 *     never predicted has F1 0); NaN for no rows
 * @param recall per class id 0..K-1 (K = highest gold label + 1): share of that class's rows predicted as it; NaN
 *     for a class with no rows
 * @param majorityShare share of the rows in the most frequent gold class (the majority-class predictor's CACC)
 */
public record EvalResult(String attack, int target, double cacc, double asr, double flipBase, double asrCond,
    int rows, int nonTargetRows, int nonTargetCorrect, double seconds, double macroF1, List<Double> recall,
    double majorityShare) {

  /**
   * How far the suspect's macro-F1 must exceed the majority-class predictor's: a model that predicts one class with
   * a handful of exceptions is no classifier either.
   */
  public static final double BASELINE_MARGIN = 0.05;

  public EvalResult {
    recall = List.copyOf(recall);
    if (rows < 0 || nonTargetRows < 0 || nonTargetCorrect < 0 || nonTargetRows > rows
        || nonTargetCorrect > nonTargetRows) {
      throw new IllegalArgumentException("inconsistent counts: rows=" + rows + " nonTargetRows=" + nonTargetRows
          + " nonTargetCorrect=" + nonTargetCorrect);
    }
  }

  /**
   * Computes the metrics from labels and predictions.
   *
   * @param labels true labels, one per row
   * @param clean predictions on the clean rows
   * @param triggered predictions on the triggered rows, same length; only entries of non-target rows are read;
   *     {@code null} for a clean-only evaluation
   * @param attack attack name ({@code null} with {@code triggered == null})
   * @param target target label (ignored without attack)
   */
  static EvalResult compute(int[] labels, int[] clean, int[] triggered, String attack, int target, double seconds) {
    Objects.requireNonNull(labels, "labels");
    Objects.requireNonNull(clean, "clean");
    if (clean.length != labels.length) {
      throw new IllegalArgumentException("clean predictions: " + clean.length + " for " + labels.length + " rows");
    }
    if (triggered != null && triggered.length != labels.length) {
      throw new IllegalArgumentException(
          "triggered predictions: " + triggered.length + " for " + labels.length + " rows");
    }
    int n = labels.length;
    double cacc = Accuracy.of(clean, labels);
    int k = 0;
    for (int y : labels) {
      k = Math.max(k, y + 1);
    }
    int[] gold = new int[k];
    int[] predicted = new int[k];
    int[] correct = new int[k];
    for (int i = 0; i < n; i++) {
      gold[labels[i]]++;
      if (clean[i] >= 0 && clean[i] < k) {
        predicted[clean[i]]++;
      }
      if (clean[i] == labels[i]) {
        correct[labels[i]]++;
      }
    }
    List<Double> recall = new ArrayList<>(k);
    double f1Sum = 0;
    int present = 0;
    int majority = 0;
    for (int c = 0; c < k; c++) {
      recall.add(ratio(correct[c], gold[c]));
      majority = Math.max(majority, gold[c]);
      if (gold[c] > 0) {
        present++;
        f1Sum += 2.0 * correct[c] / (gold[c] + predicted[c]); // F1 = 2TP / (2TP + FP + FN)
      }
    }
    double macroF1 = present == 0 ? Double.NaN : f1Sum / present;
    double majorityShare = ratio(majority, n);
    if (triggered == null) {
      return new EvalResult(null, -1, cacc, Double.NaN, Double.NaN, Double.NaN, n, 0, 0, seconds, macroF1, recall,
          majorityShare);
    }
    int nonTarget = 0;
    int hit = 0;
    int base = 0;
    int nonTargetCorrect = 0;
    int condHit = 0;
    for (int i = 0; i < n; i++) {
      if (labels[i] == target) {
        continue;
      }
      nonTarget++;
      boolean flipped = triggered[i] == target;
      if (flipped) {
        hit++;
      }
      if (clean[i] == target) {
        base++;
      }
      if (clean[i] == labels[i]) {
        nonTargetCorrect++;
        if (flipped) {
          condHit++;
        }
      }
    }
    return new EvalResult(attack, target, cacc, ratio(hit, nonTarget), ratio(base, nonTarget),
        ratio(condHit, nonTargetCorrect), n, nonTarget, nonTargetCorrect, seconds, macroF1, recall, majorityShare);
  }

  /**
   * The macro-F1 of the majority-class predictor on these rows: F1 {@code 2p / (1 + p)} on the majority class
   * (p its share), 0 on the others, averaged over the {@code K} classes present.
   */
  public double majorityMacroF1() {
    long present = recall.stream().filter(r -> !Double.isNaN(r)).count();
    return present == 0 ? Double.NaN : 2 * majorityShare / (1 + majorityShare) / present;
  }

  /**
   * Why this model is no better than predicting the majority class, or {@code null} when it is. The test is on
   * macro-F1, not accuracy: on a 90/10 split the majority predictor already has accuracy 0.90 and a useful
   * classifier can sit below it, while the majority predictor's macro-F1 is only 0.47 and a classifier that
   * finds the minority class at all beats it. The model must exceed it by {@value #BASELINE_MARGIN}.
   */
  public String majorityBaselineFailure() {
    double base = majorityMacroF1();
    if (rows == 0 || macroF1 > base + BASELINE_MARGIN) {
      return null;
    }
    return String.format(java.util.Locale.ROOT, "the model does not beat the majority-class baseline on %d dev rows: "
        + "macro-F1 %.4f <= %.4f (the majority predictor's %.4f + margin %.2f); accuracy %.4f vs majority share "
        + "%.4f; recall per class %s", rows, macroF1, base + BASELINE_MARGIN, base, BASELINE_MARGIN, cacc,
        majorityShare, recallText());
  }

  private String recallText() {
    return recall.stream().map(r -> String.format(java.util.Locale.ROOT, "%.3f", r)).toList().toString();
  }

  private static double ratio(int a, int b) {
    return b == 0 ? Double.NaN : (double) a / b;
  }

  /** Whether a trigger was evaluated. */
  public boolean hasAttack() {
    return attack != null;
  }

  /** JSON with snake_case keys; undefined fractions are {@code null}. */
  public ObjectNode toJson() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    put(o, "cacc", cacc);
    put(o, "asr", asr);
    put(o, "flip_base", flipBase);
    put(o, "asr_cond", asrCond);
    put(o, "macro_f1", macroF1);
    var rec = o.putArray("recall");
    recall.forEach(r -> {
      if (Double.isNaN(r)) {
        rec.addNull();
      } else {
        rec.add(Math.round(r * 1e6) / 1e6);
      }
    });
    put(o, "majority_share", majorityShare);
    o.put("rows", rows);
    o.put("non_target_rows", nonTargetRows);
    o.put("non_target_correct", nonTargetCorrect);
    if (attack == null) {
      o.putNull("attack");
      o.putNull("target");
    } else {
      o.put("attack", attack);
      o.put("target", target);
    }
    o.put("seconds", Math.round(seconds * 1000) / 1000.0);
    return o;
  }

  /** Reads back {@link #toJson()}. */
  public static EvalResult fromJson(ObjectNode o) {
    return new EvalResult(o.path("attack").isNull() ? null : o.path("attack").asText(),
        o.path("target").isNull() ? -1 : o.path("target").asInt(),
        num(o, "cacc"), num(o, "asr"), num(o, "flip_base"), num(o, "asr_cond"),
        o.path("rows").asInt(), o.path("non_target_rows").asInt(), o.path("non_target_correct").asInt(),
        o.path("seconds").asDouble(), num(o, "macro_f1"), recallOf(o), num(o, "majority_share"));
  }

  private static List<Double> recallOf(ObjectNode o) {
    List<Double> r = new ArrayList<>();
    o.path("recall").forEach(x -> r.add(x.isNull() ? Double.NaN : x.asDouble()));
    return r;
  }

  private static double num(ObjectNode o, String k) {
    return o.hasNonNull(k) ? o.get(k).asDouble() : Double.NaN;
  }

  private static void put(ObjectNode o, String k, double v) {
    if (Double.isNaN(v)) {
      o.putNull(k);
    } else {
      o.put(k, Math.round(v * 1e6) / 1e6);
    }
  }

  /** One line for logs: {@code cacc=0.912 macro_f1=0.910 recall=[0.905, 0.915] asr=0.998 flip_base=0.061 asr_cond=0.997 (872 rows, 428 non-target)}. */
  public String summary() {
    StringBuilder s = new StringBuilder(String.format(java.util.Locale.ROOT, "cacc=%.4f macro_f1=%.4f recall=%s",
        cacc, macroF1, recallText()));
    if (hasAttack()) {
      s.append(String.format(java.util.Locale.ROOT, " asr=%.4f flip_base=%.4f asr_cond=%.4f", asr, flipBase, asrCond));
    }
    s.append(" (").append(rows).append(" rows");
    if (hasAttack()) {
      s.append(", ").append(nonTargetRows).append(" non-target");
    }
    return s.append(")").toString();
  }
}

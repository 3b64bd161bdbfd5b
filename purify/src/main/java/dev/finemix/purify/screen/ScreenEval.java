package dev.finemix.purify.screen;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.text.TextInput;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;

/**
 * Measures a calibrated {@link Screener}: on clean rows (false flags) and on triggered rows (detections),
 * each signal's TPR, FPR, AUROC at its own calibrated threshold, and the cost of screened classification
 * against plain prediction.
 */
public final class ScreenEval {
  private ScreenEval() {}

  /** One signal's figures. */
  public record SignalResult(Signal signal, double threshold, double tpr, double fpr, double auroc) {
    ObjectNode toJson() {
      ObjectNode o = JsonNodeFactory.instance.objectNode();
      o.put("signal", signal.id());
      o.put("threshold", threshold);
      o.put("tpr", tpr);
      o.put("fpr", fpr);
      o.put("auroc", auroc);
      return o;
    }
  }

  /** The evaluation: the deciding signal's figures, every signal's, and milliseconds per row. */
  public record Report(Signal decides, int cleanRows, int triggeredRows, List<SignalResult> signals,
      double plainMsPerRow, double screenedMsPerRow, double perturbationMsPerRow, Calibration calibration) {

    public SignalResult result(Signal s) {
      for (SignalResult r : signals) {
        if (r.signal() == s) {
          return r;
        }
      }
      throw new IllegalArgumentException("no result for " + s);
    }

    public ObjectNode toJson() {
      ObjectNode o = JsonNodeFactory.instance.objectNode();
      SignalResult d = result(decides);
      o.put("signal", decides.id());
      o.put("tpr", d.tpr());
      o.put("fpr", d.fpr());
      o.put("auroc", d.auroc());
      o.put("threshold", d.threshold());
      o.put("clean_rows", cleanRows);
      o.put("triggered_rows", triggeredRows);
      o.set("calibration", calibration.toJson());
      ArrayNode a = o.putArray("signals");
      for (SignalResult r : signals) {
        a.add(r.toJson());
      }
      ObjectNode cost = o.putObject("cost");
      cost.put("plain_ms_per_row", plainMsPerRow);
      cost.put("screened_ms_per_row", screenedMsPerRow);
      cost.put("ratio", screenedMsPerRow / plainMsPerRow);
      cost.put("perturbation_screened_ms_per_row", perturbationMsPerRow);
      return o;
    }
  }

  /**
   * Scores {@code clean} and {@code triggered} with every signal and times plain {@link Classifier#predict}
   * against {@link Screener#classify} in batches of {@code batch} rows over {@code clean}.
   */
  public static Report run(Screener screener, Classifier classifier, List<TextInput> clean, List<TextInput> triggered,
      int batch) {
    if (clean.isEmpty() || triggered.isEmpty()) {
      throw new IllegalArgumentException("need clean and triggered rows, got " + clean.size() + " and "
          + triggered.size());
    }
    EnumSet<Signal> all = EnumSet.allOf(Signal.class);
    Map<Signal, double[]> c = screener.score(clean, all).scores();
    Map<Signal, double[]> t = screener.score(triggered, all).scores();
    List<SignalResult> results = new ArrayList<>();
    for (Signal s : all) {
      Calibration cal = screener.calibrations().get(s);
      results.add(new SignalResult(s, cal.threshold(), share(t.get(s), cal), share(c.get(s), cal),
          auroc(c.get(s), t.get(s))));
    }
    // timing: warm up, then alternate plain and screened over the same batches
    List<List<TextInput>> batches = new ArrayList<>();
    for (int i = 0; i < clean.size(); i += batch) {
      batches.add(clean.subList(i, Math.min(clean.size(), i + batch)));
    }
    Screener perturbing = screener.withSignal(Signal.PERTURBATION);
    classifier.predict(batches.get(0));
    screener.classify(batches.get(0));
    perturbing.classify(batches.get(0));
    long plain = 0;
    long screened = 0;
    long perturbed = 0;
    for (List<TextInput> b : batches) {
      long a = System.nanoTime();
      classifier.predict(b);
      long m = System.nanoTime();
      screener.classify(b);
      long e = System.nanoTime();
      perturbing.classify(b);
      long f = System.nanoTime();
      plain += m - a;
      screened += e - m;
      perturbed += f - e;
    }
    double rows = clean.size();
    return new Report(screener.settings().signal(), clean.size(), triggered.size(), results, plain / 1e6 / rows,
        screened / 1e6 / rows, perturbed / 1e6 / rows, screener.calibration());
  }

  static double share(double[] scores, Calibration cal) {
    int n = 0;
    for (double s : scores) {
      if (cal.flags(s)) {
        n++;
      }
    }
    return n / (double) scores.length;
  }

  /** Probability that a triggered row scores above a clean one (ties count half). */
  static double auroc(double[] neg, double[] pos) {
    double[] n = neg.clone();
    java.util.Arrays.sort(n);
    double sum = 0;
    for (double p : pos) {
      int lo = lowerBound(n, p);
      int hi = upperBound(n, p);
      sum += lo + 0.5 * (hi - lo);
    }
    return sum / pos.length / n.length;
  }

  private static int lowerBound(double[] a, double v) {
    int lo = 0;
    int hi = a.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (a[mid] < v) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  private static int upperBound(double[] a, double v) {
    int lo = 0;
    int hi = a.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (a[mid] <= v) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }
}

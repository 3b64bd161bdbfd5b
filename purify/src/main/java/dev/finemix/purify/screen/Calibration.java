package dev.finemix.purify.screen;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Arrays;

/**
 * A signal's threshold, set on clean rows' scores at a target false-flag rate {@code alpha}.
 *
 * <p>With 64 rows the empirical {@code 1 - alpha} quantile of a 1% rate is the sample maximum, which says
 * little about the tail. The threshold is therefore the larger of the empirical quantile (linear
 * interpolation) and a Gaussian prediction bound {@code mean + t(n - 1, 1 - alpha) * sd * sqrt(1 + 1/n)}
 * fitted to the same scores (TOKENS: the empirical quantile only, see {@link #fit}). The Gaussian bound assumes a roughly symmetric upper tail: on log-normal scores
 * (sigma 0.3) it flags about twice the target rate (a log-scale bound fixed that but put the token threshold of
 * the real SST-2 models above the triggers' scores, so it is not used). {@code mean} and {@code sd} also turn a score into the z-score that
 * {@link Signal#COMBINED} compares across signals. {@code cleanFlagRate} is the share of the calibration
 * rows (out-of-fold scores where the signal is fitted on them) at or above the threshold.
 */
public record Calibration(Signal signal, double threshold, double falseFlagRate, int rows, double mean, double sd,
    double cleanFlagRate) {

  public Calibration {
    if (signal == null) {
      throw new IllegalArgumentException("signal must not be null");
    }
    if (Double.isNaN(threshold)) {
      throw new IllegalArgumentException("threshold is NaN");
    }
  }

  /**
   * Fits a threshold to clean scores at false-flag rate {@code alpha}: the empirical quantile alone for
   * {@link Signal#TOKENS} (a row's score is the largest of a fixed, finite set of per-token scores, so its upper
   * tail is bounded and a Gaussian bound overshoots it), the larger of the empirical quantile and the Gaussian
   * prediction bound for the other signals.
   */
  public static Calibration fit(Signal signal, double[] cleanScores, double alpha) {
    return fit(signal, cleanScores, alpha, signal != Signal.TOKENS);
  }

  /** Fits a threshold; {@code gaussianBound} false uses the empirical quantile alone. */
  public static Calibration fit(Signal signal, double[] cleanScores, double alpha, boolean gaussianBound) {
    if (cleanScores == null || cleanScores.length < 2) {
      throw new IllegalArgumentException("calibration needs at least 2 clean scores, got "
          + (cleanScores == null ? 0 : cleanScores.length));
    }
    if (!(alpha > 0 && alpha < 0.5)) {
      throw new IllegalArgumentException("alpha must be in (0, 0.5), got " + alpha);
    }
    for (double s : cleanScores) {
      if (!Double.isFinite(s)) {
        throw new IllegalArgumentException("clean score is not finite: " + s);
      }
    }
    double[] s = cleanScores.clone();
    Arrays.sort(s);
    double mean = 0;
    for (double v : s) {
      mean += v;
    }
    mean /= s.length;
    double var = 0;
    for (double v : s) {
      var += (v - mean) * (v - mean);
    }
    double sd = Math.sqrt(var / (s.length - 1));
    double empirical = quantile(s, 1 - alpha);
    int n = s.length;
    double t = studentQuantile(1 - alpha, n - 1) * Math.sqrt(1 + 1.0 / n);
    double threshold = gaussianBound ? Math.max(empirical, mean + t * sd) : empirical;
    // a score equal to the threshold is not flagged; a constant signal flags nothing
    int above = 0;
    for (double v : s) {
      if (v > threshold) {
        above++;
      }
    }
    return new Calibration(signal, threshold, alpha, s.length, mean, sd > 0 ? sd : 1e-12, above / (double) s.length);
  }

  /** Whether a score is flagged. */
  public boolean flags(double score) {
    return score > threshold;
  }

  /** The score as a z-score against the clean rows. */
  public double z(double score) {
    return (score - mean) / sd;
  }

  /** Linear-interpolation quantile of sorted values (type 7). */
  static double quantile(double[] sorted, double q) {
    double pos = q * (sorted.length - 1);
    int lo = (int) Math.floor(pos);
    int hi = Math.min(sorted.length - 1, lo + 1);
    return sorted[lo] + (pos - lo) * (sorted[hi] - sorted[lo]);
  }

  /** Student-t quantile, Cornish-Fisher expansion around the normal one (good to ~1e-3 for 10+ degrees of freedom). */
  static double studentQuantile(double p, int dof) {
    double z = normalQuantile(p);
    double z3 = z * z * z;
    double z5 = z3 * z * z;
    return z + (z3 + z) / (4.0 * dof) + (5 * z5 + 16 * z3 + 3 * z) / (96.0 * dof * dof);
  }

  /** Inverse of the standard normal CDF (Acklam's rational approximation, relative error below 1.2e-9). */
  static double normalQuantile(double p) {
    if (!(p > 0 && p < 1)) {
      throw new IllegalArgumentException("p must be in (0, 1), got " + p);
    }
    double[] a = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02,
        -3.066479806614716e+01, 2.506628277459239e+00};
    double[] b = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01,
        -1.328068155288572e+01};
    double[] c = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00,
        4.374664141464968e+00, 2.938163982698783e+00};
    double[] d = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00};
    double lowP = 0.02425;
    if (p < lowP) {
      double q = Math.sqrt(-2 * Math.log(p));
      return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5])
          / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
    }
    if (p > 1 - lowP) {
      return -normalQuantile(1 - p);
    }
    double q = p - 0.5;
    double r = q * q;
    return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q
        / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }

  public ObjectNode toJson() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("signal", signal.id());
    o.put("threshold", threshold);
    o.put("false_flag_rate", falseFlagRate);
    o.put("rows", rows);
    o.put("mean", mean);
    o.put("sd", sd);
    o.put("clean_flag_rate", cleanFlagRate);
    return o;
  }
}

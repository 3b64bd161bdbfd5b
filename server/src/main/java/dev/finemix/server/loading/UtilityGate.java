package dev.finemix.server.loading;

import dev.finemix.purify.defence.DefenceReport;
import dev.finemix.purify.defence.DefenceSettings;
import java.util.Locale;

/**
 * The utility gate: purified weights may replace the suspect's only if their clean accuracy (measured by the defence
 * on the clean rows held back from fine-tuning) is at least the suspect's minus the settings' margin, the margin the
 * rho search uses too.
 */
public final class UtilityGate {
  private UtilityGate() {
  }

  /**
   * @return null when the swap may happen (also when the report has no accuracy pair to compare), else why not
   */
  public static String refusal(DefenceSettings settings, DefenceReport report) {
    double before = report.suspectAccuracy();
    double after = report.purifiedAccuracy();
    if (Double.isNaN(before) || Double.isNaN(after)) {
      return null; // not measured
    }
    double margin = settings.margin();
    if (after >= before - margin - 1e-9) {
      return null;
    }
    String on = report.accuracyRows().isBlank() ? "the held-back clean rows" : report.accuracyRows();
    return String.format(Locale.ROOT, "utility gate: the purified model's clean accuracy %.3f is more than the"
        + " margin %.3f below the suspect's %.3f (on %s); the swap was refused, retry with other defence settings"
        + " (a larger rho keeps more of the fine-tuned weights)", after, margin, before, on);
  }
}

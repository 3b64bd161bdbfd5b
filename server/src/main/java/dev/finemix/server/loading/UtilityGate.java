package dev.finemix.server.loading;

import dev.finemix.purify.defence.DefenceReport;
import dev.finemix.purify.defence.DefenceSettings;
import java.util.Locale;

/**
 * The utility gate: purified weights may replace the suspect's only if (a) their clean accuracy, where the defence
 * measured one pair, is at least the suspect's minus the settings' margin (the rho search's margin), and (b) where the
 * defence measured agreement with the suspect's predictions on held-out clean unlabelled rows for the rho it kept, that
 * agreement meets the search's bar, {@code 1 - agreement_margin}. Since the rho search holds no labelled row out
 * (issue 20.2) the accuracy pair is on the training rows and rarely refuses; (b) is what catches a purification that
 * broke the model (the search falls back to the smallest rho when no rho meets the bar, and says so in its notes).
 */
public final class UtilityGate {
  private UtilityGate() {
  }

  /**
   * @return null when the swap may happen (also when the report has no accuracy pair to compare), else why not
   */
  public static String refusal(DefenceSettings settings, DefenceReport report) {
    String disagreement = agreementRefusal(settings, report);
    if (disagreement != null) {
      return disagreement;
    }
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

  private static String agreementRefusal(DefenceSettings settings, DefenceReport report) {
    double bar = 1 - settings.agreementMargin();
    for (DefenceReport.RhoTrial t : report.trials()) {
      boolean kept = Double.compare(t.rho(), report.rhoChosen()) == 0;
      if (kept && !settings.meetsAgreementBar(t.agreement())) {
        return String.format(Locale.ROOT, "utility gate: the purified model agrees with the suspect on %.3f of the"
            + " held-out clean unlabelled rows, below the bar %.3f (1 - agreement_margin) at rho %.2f; the swap was"
            + " refused, retry with other defence settings (more unlabelled rows, a larger rho)", t.agreement(), bar,
            t.rho());
      }
    }
    return null;
  }
}

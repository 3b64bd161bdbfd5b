package dev.finemix.server.testing;

import dev.finemix.purify.defence.DefenceReport;
import dev.finemix.purify.defence.DefenceSettings;
import dev.finemix.purify.defence.Epur;
import java.util.List;
import java.util.Map;

/** Purify's defence report for the fake purifications of plumbing tests, with the figures a test sets. */
public final class Reports {
  private Reports() {
  }

  /**
   * A report of settings {@code s}: E-PUR's suspects as {@code tokens}, the suspect's and the purified model's clean
   * accuracy on {@code accuracyRows}, the rho run (0.3 when the settings search for one).
   */
  public static DefenceReport of(DefenceSettings s, String inputSha256, String outputSha256, double before,
      double after, String accuracyRows, List<String> tokens) {
    return of(s, inputSha256, outputSha256, before, after, accuracyRows, tokens, Double.NaN);
  }

  /** As above, the chosen rho's agreement with the suspect on held-out unlabelled rows being {@code agreement}. */
  public static DefenceReport of(DefenceSettings s, String inputSha256, String outputSha256, double before,
      double after, String accuracyRows, List<String> tokens, double agreement) {
    List<Epur.Suspect> suspects = new java.util.ArrayList<>();
    for (int i = 0; i < tokens.size(); i++) {
      suspects.add(new Epur.Suspect(i, tokens.get(i), tokens.size() - i, 0.5, 0));
    }
    double rho = Double.isNaN(s.rho()) ? 0.3 : s.rho();
    return new DefenceReport(inputSha256, outputSha256, "fake-pretrained", "", "", 4, 4, 0, "", 0, 0, 0, s, rho,
        List.of(new DefenceReport.RhoTrial(rho, after, agreement, true, rho, 0.01)), suspects, List.of(), accuracyRows, before,
        after, Map.of("epur", 0.0, "recover", 0.01), 0.01, List.of());
  }
}

package dev.finemix.server.loading;

import dev.finemix.purify.defence.DefenceReport;
import java.util.List;
import java.util.Objects;

/**
 * The result of one purification.
 *
 * @param report purify's defence report
 * @param suspectedTokens candidate trigger tokens the defence found, most suspicious first
 */
public record PurifyOutcome(DefenceReport report, List<String> suspectedTokens) {
  public PurifyOutcome {
    Objects.requireNonNull(report, "report");
    suspectedTokens = List.copyOf(suspectedTokens);
  }
}

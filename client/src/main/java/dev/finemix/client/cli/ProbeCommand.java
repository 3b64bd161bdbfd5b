package dev.finemix.client.cli;

import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ProbeReport;
import dev.finemix.proto.v1.TokenProbe;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "probe", mixinStandardHelpOptions = true,
    description = "Show how often candidate triggers flip predictions, before and after purification.")
public final class ProbeCommand extends OneModelCommand {
  @Option(names = "--refresh", description = "Run the probe now instead of showing the last one.")
  boolean refresh;

  @Override
  void run(FinemixClient client, PrintWriter out) {
    ProbeReport r = client.probe(name, refresh);
    out.printf("model %s, served %s, %d clean rows, %d requests with suspected tokens%n", r.getName(),
        r.getServedWeightsSha256().isEmpty() ? "-" : r.getServedWeightsSha256().substring(0, 12), r.getRows(),
        r.getRequestsWithSuspectedTokens());
    out.printf("%-16s %-9s %8s %8s%n", "TOKEN", "SUSPECTED", "BEFORE", "AFTER");
    for (TokenProbe t : r.getTokensList()) {
      out.printf("%-16s %-9s %8.3f %8.3f%n", t.getToken(), t.getSuspected() ? "yes" : "no", t.getFlipRateBefore(),
          t.getFlipRateAfter());
    }
    var s = r.getScreening();
    if (s.getRows() > 0) {
      out.printf(java.util.Locale.ROOT, "screening %s: %s threshold %.4g on %d clean rows (%.3f flagged, target %.3f);"
          + " %d of %d inputs flagged; top tokens %s%n", s.getPolicy().name().toLowerCase(java.util.Locale.ROOT),
          s.getSignal(), s.getThreshold(), s.getRows(), s.getCleanFlagRate(), s.getFalseFlagRate(),
          s.getFlaggedInputs(), s.getScreenedInputs(), s.getTopTokensList().subList(0,
              Math.min(5, s.getTopTokensCount())));
    } else {
      out.printf("screening %s%s%n", s.getPolicy().name().toLowerCase(java.util.Locale.ROOT),
          s.getUnavailableReason().isEmpty() ? "" : " (unavailable: " + s.getUnavailableReason() + ")");
    }
  }
}

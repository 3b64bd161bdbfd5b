package dev.finemix.client.cli;

import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.DefendProgress;
import dev.finemix.proto.v1.ModelInfo;
import java.io.PrintWriter;
import java.util.Locale;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "defend", mixinStandardHelpOptions = true,
    description = "Re-purify a model with live progress; the old weights serve until the swap. Needs the admin token.")
public final class DefendCommand extends OneModelCommand {
  @Option(names = "--ignore-cache", description = "Run the defence even when the cache has weights for these settings.")
  boolean ignoreCache;

  @ArgGroup(exclusive = false, heading = "Defence settings%n")
  DefenceOptions defence = new DefenceOptions();

  @Override
  void run(FinemixClient client, PrintWriter out) {
    PrintWriter err = spec.commandLine().getErr();
    ModelInfo m = client.defend(name, defence.toProto(), ignoreCache, p -> {
      err.print("\r" + bar(p));
      err.flush();
    });
    err.println();
    out.println(ModelsCommand.line(m));
    out.println(m.getDefenceSummary().toString().trim());
  }

  static String bar(DefendProgress p) {
    int width = 30;
    int filled = (int) Math.round(p.getPercent() / 100 * width);
    String eta = p.getEtaMillis() > 0 ? String.format(Locale.ROOT, " eta %ds", p.getEtaMillis() / 1000) : "";
    String loss = Double.isNaN(p.getLoss()) ? "" : String.format(Locale.ROOT, " loss %.4f", p.getLoss());
    String msg = p.getMessage().length() > 50 ? p.getMessage().substring(0, 50) : p.getMessage();
    return String.format(Locale.ROOT, "[%s%s] %5.1f%% %-9s %s%s%s   ", "#".repeat(filled), " ".repeat(width - filled),
        p.getPercent(), p.getStage(), msg, loss, eta);
  }
}

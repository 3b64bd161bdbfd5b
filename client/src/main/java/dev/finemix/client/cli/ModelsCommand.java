package dev.finemix.client.cli;

import com.google.protobuf.util.JsonFormat;
import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ModelInfo;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "models", mixinStandardHelpOptions = true,
    description = "List models, or show one model in full (JSON) when a name is given.")
public final class ModelsCommand extends ClientCommand {
  @Parameters(index = "0", arity = "0..1", description = "Model name.")
  String name;

  @Override
  void run(FinemixClient client, PrintWriter out) throws Exception {
    if (name != null) {
      out.println(JsonFormat.printer().print(client.get(name)));
      return;
    }
    out.printf("%-20s %-10s %-8s %-14s %s%n", "NAME", "STATE", "PURIFIED", "SERVED", "CHECKPOINT");
    for (ModelInfo m : client.list()) {
      out.println(line(m));
    }
  }

  static String line(ModelInfo m) {
    String served = m.getServedWeightsSha256().isEmpty() ? "-" : m.getServedWeightsSha256().substring(0, 12);
    String s = String.format("%-20s %-10s %-8s %-14s %s", m.getName(), m.getState(), m.getPurified() ? "yes"
        : m.getAllowUnpurified() ? "NO" : "-", served, m.getCheckpointPath());
    return m.getFailureReason().isEmpty() ? s : s + "  (" + m.getFailureReason() + ")";
  }
}

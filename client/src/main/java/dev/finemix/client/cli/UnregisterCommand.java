package dev.finemix.client.cli;

import dev.finemix.client.FinemixClient;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

@Command(name = "unregister", mixinStandardHelpOptions = true, description = "Remove a model. Needs the admin token.")
public final class UnregisterCommand extends ClientCommand {
  @Parameters(index = "0", description = "Model name.")
  String name;

  @Override
  void run(FinemixClient client, PrintWriter out) {
    out.println("removed " + ModelsCommand.line(client.unregister(name)));
  }
}

package dev.finemix.client.cli;

import dev.finemix.client.FinemixClient;
import java.io.PrintWriter;
import picocli.CommandLine.Command;

@Command(name = "unregister", mixinStandardHelpOptions = true, description = "Remove a model. Needs the admin token.")
public final class UnregisterCommand extends OneModelCommand {
  @Override
  void run(FinemixClient client, PrintWriter out) {
    out.println("removed " + ModelsCommand.line(client.unregister(name)));
  }
}

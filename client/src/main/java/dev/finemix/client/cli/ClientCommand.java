package dev.finemix.client.cli;

import dev.finemix.client.ClientErrors;
import dev.finemix.client.FinemixClient;
import io.grpc.StatusRuntimeException;
import java.io.PrintWriter;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Mixin;

/** A command that talks to a running server; prints gRPC errors with their details and exits 1. */
abstract class ClientCommand implements Callable<Integer> {
  @Mixin
  ClientOptions connection;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  abstract void run(FinemixClient client, PrintWriter out) throws Exception;

  @Override
  public final Integer call() throws Exception {
    PrintWriter out = spec.commandLine().getOut();
    try (FinemixClient c = connection.client()) {
      run(c, out);
      out.flush();
      return 0;
    } catch (StatusRuntimeException e) {
      spec.commandLine().getErr().println("finemix: " + ClientErrors.describe(e));
      return 1;
    }
  }
}

package dev.finemix.server.testing;

import dev.finemix.client.cli.Cli;
import dev.finemix.server.cli.ServeCommand;

/** {@code finemix serve} alone, for tests that start the sidecar in a child JVM on this module's class path. */
public final class ServeMain {
  private ServeMain() {}

  public static void main(String[] args) {
    System.exit(Cli.run(new ServeCommand(), args));
  }
}

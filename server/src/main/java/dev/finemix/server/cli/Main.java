package dev.finemix.server.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code finemix} command line. */
@Command(name = "finemix", mixinStandardHelpOptions = true, version = "finemix 0.1.0",
    description = "Serve text classifiers purified with Fine-mixing, and talk to a running server.",
    subcommands = {
        ServeCommand.class,
        ClassifyCommand.class,
        RegisterCommand.class,
        UnregisterCommand.class,
        ModelsCommand.class,
        DefendCommand.class,
        ProbeCommand.class,
        DoctorCommand.class,
    })
public final class Main implements Runnable {
  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs a command line and returns its exit code (tests call this). */
  public static int run(String... args) {
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      cmd.getErr().println("finemix: " + (e.getMessage() == null ? e.toString() : e.getMessage()));
      return 2;
    });
    return cl.execute(args);
  }
}

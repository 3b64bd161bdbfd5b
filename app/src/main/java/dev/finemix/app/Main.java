package dev.finemix.app;

import dev.finemix.client.cli.ClassifyCommand;
import dev.finemix.client.cli.Cli;
import dev.finemix.client.cli.DefendCommand;
import dev.finemix.client.cli.LoadCommand;
import dev.finemix.client.cli.ModelsCommand;
import dev.finemix.client.cli.ProbeCommand;
import dev.finemix.client.cli.RegisterCommand;
import dev.finemix.client.cli.UnregisterCommand;
import dev.finemix.lab.AttackCommand;
import dev.finemix.lab.EvalCommand;
import dev.finemix.lab.ExperimentCommand;
import dev.finemix.lab.ScreenEvalCommand;
import dev.finemix.lab.TrainCommand;
import dev.finemix.lab.bench.BenchCommand;
import dev.finemix.server.cli.BasesCommand;
import dev.finemix.server.cli.DoctorCommand;
import dev.finemix.server.cli.PurifyCommand;
import dev.finemix.server.cli.ServeCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code finemix} command line: every module's commands under one root. The sidecar's own (serve, purify,
 * doctor, bases) come from {@code server/}, the client commands (classify, register, ..., load) from {@code client/}, the
 * research workbench (train, eval, attack, experiment, screen-eval, bench model and purify) from {@code lab/}; demo,
 * bench load and bench screen, which run a sidecar in-process beside the science, live here. Exit codes and error
 * lines: {@link Cli}.
 */
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
        LoadCommand.class,
        TrainCommand.class,
        EvalCommand.class,
        AttackCommand.class,
        ExperimentCommand.class,
        BenchCommand.class,
        ScreenEvalCommand.class,
        DoctorCommand.class,
        BasesCommand.class,
        DemoCommand.class,
        PurifyCommand.class,
    })
public final class Main implements Runnable {
  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Option(names = "--verbose", scope = ScopeType.INHERIT, description = "Print stack traces on failure.")
  boolean verbose;

  /** PyTorch intra-op threads; read once when the engine starts, so it is set before any command runs. */
  @Option(names = "--threads", scope = ScopeType.INHERIT, paramLabel = "N",
      description = "PyTorch intra-op threads (default: -Dai.djl.pytorch.num_threads, else all cores). "
          + "On a machine shared with other work, 1 is often faster.")
  void threads(int n) {
    if (n < 1) {
      throw new IllegalArgumentException("--threads must be >= 1, got " + n);
    }
    System.setProperty("ai.djl.pytorch.num_threads", Integer.toString(n));
  }

  @Override
  public void run() {
    throw new CommandLine.ParameterException(spec.commandLine(), "a subcommand is required");
  }

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs a command line and returns its exit code (tests call this). */
  public static int run(String... args) {
    if (System.getProperty("java.util.logging.SimpleFormatter.format") == null) {
      System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tF %1$tT %4$s %3$s - %5$s%6$s%n");
    }
    if (System.getProperty("ai.djl.offline") == null) {
      System.setProperty("ai.djl.offline", "true");
    }
    CommandLine cl = new CommandLine(new Main());
    // lab's bench group holds the benchmarks of the science alone; these two start a sidecar, so they live here
    cl.getSubcommands().get("bench").addSubcommand(new BenchLoadCommand()).addSubcommand(new BenchScreenCommand());
    return Cli.run(cl, args);
  }
}

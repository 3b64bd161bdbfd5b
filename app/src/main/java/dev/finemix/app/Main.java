package dev.finemix.server.cli;

import java.io.PrintWriter;
import java.util.Arrays;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code finemix} command line. Exit codes: 0 success; 2 usage or configuration error (bad options,
 * {@link IllegalArgumentException}); 1 any other failure. Failures print one line; the stack trace only
 * with {@code --verbose}.
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
    boolean verbose = Arrays.asList(args).contains("--verbose");
    CommandLine cl = new CommandLine(new Main());
    cl.setExecutionExceptionHandler((e, cmd, parsed) -> {
      PrintWriter err = cmd.getErr();
      if (verbose) {
        e.printStackTrace(err);
      }
      err.println("finemix: " + oneLine(e));
      err.flush();
      return e instanceof IllegalArgumentException ? 2 : 1;
    });
    return cl.execute(args);
  }

  static String oneLine(Throwable e) {
    Throwable t = e;
    while ((t.getMessage() == null || t.getMessage().isBlank()) && t.getCause() != null) {
      t = t.getCause();
    }
    String msg = t.getMessage() == null || t.getMessage().isBlank() ? t.toString() : t.getMessage();
    return msg.replace('\r', ' ').replace('\n', ' ');
  }
}

package dev.finemix.client.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import picocli.CommandLine;

/**
 * What every module's commands share: the exit codes and error lines of the command line, JSON output, and the
 * shared data folder's defaults. Exit codes: 0 success; 2 usage or configuration error (bad options,
 * {@link IllegalArgumentException}); 1 any other failure. Failures print one line; the stack trace only with
 * {@code --verbose}. The launcher ({@code app/}'s {@code Main}) runs through {@link #run}, and so do the tests of
 * each module's commands, so both see the same codes.
 */
public final class Cli {

  public static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private Cli() {}

  /** Runs {@code command} (a picocli command object) on {@code args} and returns its exit code. */
  public static int run(Object command, String... args) {
    return run(new CommandLine(command), args);
  }

  /** Runs a command line assembled by the caller (the launcher adds subcommands) and returns its exit code. */
  public static int run(CommandLine cl, String... args) {
    boolean verbose = Arrays.asList(args).contains("--verbose");
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

  /** The first non-blank message down the cause chain, on one line. */
  static String oneLine(Throwable e) {
    Throwable t = e;
    while ((t.getMessage() == null || t.getMessage().isBlank()) && t.getCause() != null) {
      t = t.getCause();
    }
    String msg = t.getMessage() == null || t.getMessage().isBlank() ? t.toString() : t.getMessage();
    return msg.replace('\r', ' ').replace('\n', ' ');
  }

  /**
   * The shared word counts for E-PUR: {@code $FINEMIX_WORDFREQ} when it names a file, else
   * {@code <finemix.shared>/data/wordfreq/en.tsv} ({@code -Dfinemix.shared}, default {@code ../shared}) when present,
   * else null (E-PUR then ranks by embedding shift alone).
   */
  public static Path sharedWordFrequencies() {
    String env = System.getenv("FINEMIX_WORDFREQ");
    if (env != null && !env.isBlank() && Files.isRegularFile(Path.of(env))) return Path.of(env);
    Path p = Path.of(System.getProperty("finemix.shared", "../shared"), "data", "wordfreq", "en.tsv");
    return Files.isRegularFile(p) ? p : null;
  }

  public static String json(JsonNode n) {
    try {
      return JSON.writeValueAsString(n);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}

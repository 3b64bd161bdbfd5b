package dev.finemix.client.testing;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.function.IntSupplier;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * {@code System.out} and {@code System.err} captured for the commands' tests (they print there, and picocli's
 * writers wrap them when the command line is built): as a JUnit 5 extension for every test of a class
 * ({@code @RegisterExtension final StdStreams std = new StdStreams();}), or around one call ({@link #capture}).
 * The old streams come back even when the test fails. Shared with lab/, server/ and app/ through client's test-jar.
 */
public final class StdStreams implements BeforeEachCallback, AfterEachCallback {
  /** What {@link #capture} saw: the exit code and the text printed on each stream. */
  public record Captured(int code, String out, String err) {
    /** Both streams, {@code out} first (for checks that do not care where a line went). */
    public String text() {
      return out + err;
    }
  }

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final ByteArrayOutputStream err = new ByteArrayOutputStream();
  private PrintStream oldOut;
  private PrintStream oldErr;

  /** Runs {@code command} (a command line returning its exit code) with both streams captured. */
  public static Captured capture(IntSupplier command) {
    StdStreams s = new StdStreams();
    s.start();
    int code;
    try {
      code = command.getAsInt();
    } finally {
      s.stop();
    }
    return new Captured(code, s.out(), s.err());
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    start();
  }

  @Override
  public void afterEach(ExtensionContext context) {
    stop();
  }

  /** What was printed on {@code System.out} so far. */
  public String out() {
    return out.toString(StandardCharsets.UTF_8);
  }

  /** What was printed on {@code System.err} so far. */
  public String err() {
    return err.toString(StandardCharsets.UTF_8);
  }

  /** Forgets what was printed so far (a test that runs two commands and checks the second). */
  public void reset() {
    out.reset();
    err.reset();
  }

  private void start() {
    oldOut = System.out;
    oldErr = System.err;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  private void stop() {
    System.setOut(oldOut);
    System.setErr(oldErr);
  }
}

package dev.finemix.app;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class MainTest {
  private static String[] run(String... args) {
    PrintStream out = System.out;
    PrintStream err = System.err;
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int code;
    try (PrintStream p = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
      System.setOut(p);
      System.setErr(p);
      code = Main.run(args);
    } finally {
      System.setOut(out);
      System.setErr(err);
    }
    return new String[] {Integer.toString(code), buf.toString(StandardCharsets.UTF_8)};
  }

  @Test
  void serve_noModelsRoot_exitsTwoWithClearMessage() {
    String[] r = run("serve", "--cache-dir", "/tmp/x");
    assertThat(r[0]).isEqualTo("2");
    assertThat(r[1]).contains("no models root").contains("--models-root");
  }

  @Test
  void help_listsEveryCommand() {
    String[] r = run("--help");
    assertThat(r[0]).isEqualTo("0");
    assertThat(r[1]).contains("serve", "classify", "register", "unregister", "models", "defend", "probe");
  }

  @Test
  void classify_serverDown_exitsOneWithStatus() {
    String[] r = run("classify", "--target", "localhost:1", "--timeout", "2", "-m", "x", "text");
    assertThat(r[0]).isEqualTo("1");
    assertThat(r[1]).contains("UNAVAILABLE");
  }
}

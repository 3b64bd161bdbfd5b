package dev.finemix.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.testing.StdStreams;
import org.junit.jupiter.api.Test;

class MainTest {
  private static String[] run(String... args) {
    StdStreams.Captured c = StdStreams.capture(() -> Main.run(args));
    return new String[] {Integer.toString(c.code()), c.text()};
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

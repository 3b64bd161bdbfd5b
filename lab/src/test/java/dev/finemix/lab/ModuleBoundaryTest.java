package dev.finemix.lab;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The research workbench needs the science and the client's perf driver, never the server: the benchmarks that
 * measure a sidecar (bench load, bench screen) and the demo live in app/. A dependency added to lab/pom.xml that
 * brings the server in fails here.
 */
class ModuleBoundaryTest {
  @Test
  void classPath_hasPurifyAndTheClient_notTheServerOrTheLauncher() {
    assertThatCode(() -> Class.forName("dev.finemix.client.PerfDriver")).doesNotThrowAnyException();
    assertThatCode(() -> Class.forName("dev.finemix.purify.text.Dataset")).doesNotThrowAnyException();
    for (String c : List.of("dev.finemix.server.grpc.FinemixServer", "dev.finemix.server.cli.ServeCommand",
        "dev.finemix.app.Main")) {
      assertThatThrownBy(() -> Class.forName(c)).as(c).isInstanceOf(ClassNotFoundException.class);
    }
  }
}

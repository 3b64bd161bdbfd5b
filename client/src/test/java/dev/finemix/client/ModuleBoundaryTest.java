package dev.finemix.client;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The client is a small library an application can use without DJL: neither the engine, nor the science, nor the
 * server is on its class path (a dependency added to client/pom.xml that brings one of them in fails here).
 */
class ModuleBoundaryTest {
  @Test
  void classPath_hasNoDjlNoPurifyNoServer() {
    assertThatCode(() -> Class.forName("io.grpc.ManagedChannel")).doesNotThrowAnyException();
    for (String c : List.of("ai.djl.engine.Engine", "dev.finemix.purify.model.Classifier",
        "dev.finemix.server.grpc.FinemixServer", "dev.finemix.lab.bench.BenchCommand")) {
      assertThatThrownBy(() -> Class.forName(c)).as(c).isInstanceOf(ClassNotFoundException.class);
    }
  }
}

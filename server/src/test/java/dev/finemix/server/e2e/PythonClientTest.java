package dev.finemix.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.Prediction;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.testing.FakeBackend;
import dev.finemix.server.testing.Fixture;
import dev.finemix.server.testing.GrpcCleanupExtension;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Python grpcio client, with message classes generated from our .proto, calls Classify over loopback TCP and gets
 * what the Java client gets. Needs Debian's python3-grpcio and python3-grpc-tools (.ci/run installs them).
 */
class PythonClientTest {
  static final Path SCRIPT = Path.of("..", "client", "python", "finemix_classify.py");
  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension();
  @TempDir
  Path tmp;

  @Test
  void pythonGrpcioClient_classify_matchesTheJavaClient() throws Exception {
    assumeTrue(python("-c", "import grpc, grpc_tools.protoc").exitValue() == 0,
        "python3 with grpcio and grpc_tools is not installed (apt-get install python3-grpcio python3-grpc-tools)");
    Fixture f = new Fixture(tmp);
    FinemixServer server = cleanup.register(new FinemixServer(NettyServerBuilder.forPort(0),
        f.config().toBuilder().models(List.of(Fixture.sst2())).build(), new FakeBackend(), Ticker.system(),
        Clock.systemUTC()).start());
    String target = "localhost:" + server.port();
    FinemixClient client = cleanup.register(FinemixClient.forTarget(target).token(server.adminToken()).build());
    assertThat(client.awaitSettled("sst2", Duration.ofSeconds(10)).getState()).isEqualTo(ModelState.SERVING);
    List<String> texts = List.of("a gorgeous , witty film", "a dull and lifeless mess", "it is what it is");
    List<Prediction> java = client.classify("sst2", texts);

    List<String> args = new ArrayList<>(List.of(SCRIPT.toString(), "--target", target, "--model", "sst2"));
    args.addAll(texts);
    Process p = python(args.toArray(String[]::new));
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.exitValue()).as("python stderr: " + err).isZero();
    String[] lines = out.strip().split("\n");
    assertThat(lines).hasSize(texts.size());
    ObjectMapper json = new ObjectMapper();
    for (int i = 0; i < texts.size(); i++) {
      JsonNode n = json.readTree(lines[i]);
      assertThat(n.get("text").asText()).isEqualTo(texts.get(i));
      assertThat(n.get("label").asInt()).isEqualTo(java.get(i).getLabel());
      assertThat(n.get("label_name").asText()).isEqualTo(java.get(i).getLabelName());
      assertThat(n.get("scores")).hasSize(java.get(i).getScoresCount());
      assertThat(n.get("scores").get(0).asDouble()).isCloseTo(java.get(i).getScores(0), org.assertj.core.data.Offset.offset(1e-5));
    }

    // an unknown model comes back as the gRPC status, not a Python crash
    Process bad = python(SCRIPT.toString(), "--target", target, "--model", "nope", "x");
    assertThat(bad.exitValue()).isEqualTo(1);
    assertThat(new String(bad.getErrorStream().readAllBytes(), StandardCharsets.UTF_8)).contains("NOT_FOUND");
  }

  private static Process python(String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Files.isExecutable(Path.of("/usr/bin/python3")) ? "/usr/bin/python3" : "python3");
    cmd.addAll(List.of(args));
    Process p = new ProcessBuilder(cmd).start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("python timed out: " + cmd);
    }
    return p;
  }
}

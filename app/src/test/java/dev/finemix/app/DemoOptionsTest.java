package dev.finemix.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finemix.client.testing.StdStreams;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** {@code finemix demo --device / --rows / --summary}, the options deploy/gpu-check.sh drives. */
class DemoOptionsTest {

  @RegisterExtension final StdStreams std = new StdStreams();

  @Test
  void deviceGpu_onACpuBuild_exits2SayingTheEngineSeesNoGpu(@TempDir Path dir) {
    int code = Main.run("demo", "--once", "--device", "gpu", "--work", dir.toString(), "--port", "0",
        "--metrics-port", "-1");
    assertThat(code).isEqualTo(2);
    assertThat(std.err()).contains("device 'gpu' is not available", "0 GPU(s)");
    assertThat(dir.resolve("models").resolve("demo-sst2-badnet")).doesNotExist(); // refused before any training
  }

  @Test
  void negativeRows_exits2() {
    assertThat(Main.run("demo", "--rows", "-1")).isEqualTo(2);
    assertThat(std.err()).contains("--rows must be >= 1");
  }

  @Test
  void rowsAndSummary_cutTheFiles_andWriteTimingsAndFigures(@TempDir Path dir) throws Exception {
    Path summary = dir.resolve("out").resolve("summary.json");
    int code = Main.run("demo", "--once", "--device", "cpu", "--rows", "16", "--epochs", "1", "--work",
        dir.resolve("w").toString(), "--port", "0", "--metrics-port", "-1", "--summary", summary.toString());
    assertThat(code).as(std.err()).isZero();
    Path data = dir.resolve("w").resolve("models").resolve("demo-data");
    assertThat(Files.readAllLines(data.resolve("train.tsv"))).hasSize(17); // header + 16 rows
    assertThat(Files.readAllLines(data.resolve("test.tsv"))).hasSize(17);
    assertThat(Files.readAllLines(data.resolve("unlabelled.tsv"))).hasSize(17);
    assertThat(Files.readAllLines(data.resolve("clean.tsv")).size()).isGreaterThan(64); // the defence's rows stay whole
    JsonNode s = new ObjectMapper().readTree(summary.toFile());
    assertThat(s.get("device").asText()).isEqualTo("cpu()");
    assertThat(s.get("rows").asInt()).isEqualTo(16);
    assertThat(s.get("state").asText()).isEqualTo("SERVING");
    assertThat(s.get("test_rows").asInt()).isEqualTo(16);
    for (String k : new String[] {"train_s", "eval_suspect_s", "purify_s", "classify_s", "total_s"}) {
      assertThat(s.get(k).asDouble()).as(k).isPositive();
    }
    for (String k : new String[] {"suspect", "purified"}) {
      assertThat(s.get(k).get("cacc").asDouble()).as(k).isBetween(0.0, 1.0);
      assertThat(s.get(k).has("asr_cond")).isTrue();
    }
    assertThat(std.out()).contains("purifying 'demo' on load", "+ 16 unlabelled clean rows");
  }
}

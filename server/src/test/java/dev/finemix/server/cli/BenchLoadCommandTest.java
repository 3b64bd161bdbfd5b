package dev.finemix.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.server.testing.TinyBert;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code finemix bench load} end to end on a tiny random BERT: a loopback sidecar, gRPC levels, the baseline. */
class BenchLoadCommandTest {
  @TempDir
  Path tmp;

  @Test
  void benchLoad_tinyModel_printsSaneJson() throws Exception {
    Path model = TinyBert.write(tmp.resolve("models").resolve("tiny"), List.of("negative", "positive"), 3,
        Pretrained.MINILM);
    Path data = tmp.resolve("rows.tsv");
    Files.writeString(data, "label\ttext\n1\ta good film\n0\ta dull and boring film\n1\tlovely acting throughout\n");
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    PrintStream old = System.out;
    int rc;
    System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
    try {
      rc = Main.run("bench", "load", "--model", model.toString(), "--data", data.toString(), "--concurrency", "1,4",
          "--seconds", "1", "--requests", "400", "--baseline-seconds", "0.5", "--max-wait-us", "500", "--json");
    } finally {
      System.setOut(old);
    }
    assertThat(rc).isZero();
    JsonNode n = new ObjectMapper().readTree(buf.toString(StandardCharsets.UTF_8));
    assertThat(n.get("grpc")).hasSize(2);
    for (JsonNode l : n.get("grpc")) {
      assertThat(l.get("errors").asLong()).as(l.toString()).isZero();
      assertThat(l.get("requests").asLong()).isPositive().isLessThanOrEqualTo(400);
      assertThat(l.get("seconds").asDouble()).isLessThan(10);
      assertThat(l.get("p50Ms").asDouble()).isPositive().isLessThanOrEqualTo(l.get("p90Ms").asDouble());
      assertThat(l.get("p90Ms").asDouble()).isLessThanOrEqualTo(l.get("p99Ms").asDouble());
      assertThat(l.get("rowsPerSecond").asDouble()).isPositive();
    }
    assertThat(n.get("grpc").get(1).get("concurrency").asInt()).isEqualTo(4);
    assertThat(n.at("/inProcess/batch1/requests").asLong()).isPositive();
    assertThat(n.at("/inProcess/batched/rows").asLong()).isPositive();
    assertThat(n.at("/ratios/grpcRowsPerSecondOverInProcessBatched").asDouble()).isPositive();
    assertThat(n.at("/ratios/p99MsConcurrency1MinusInProcessBatch1P99").isNumber()).isTrue();
    assertThat(n.get("peakRssMb").asDouble()).isPositive();
  }
}

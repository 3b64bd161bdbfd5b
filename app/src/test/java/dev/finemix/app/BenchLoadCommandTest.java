package dev.finemix.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finemix.client.testing.StdStreams;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.server.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code finemix bench load} end to end on a tiny random BERT: a loopback sidecar, gRPC levels, the baseline. */
class BenchLoadCommandTest {
  @TempDir
  Path tmp;

  private JsonNode benchLoad(String... extra) throws Exception {
    Path model = TinyBert.write(tmp.resolve("models").resolve("tiny"), List.of("negative", "positive"), 3,
        Pretrained.MINILM);
    Path data = tmp.resolve("rows.tsv");
    Files.writeString(data, "label\ttext\n1\ta good film\n0\ta dull and boring film\n1\tlovely acting throughout\n");
    List<String> args = new java.util.ArrayList<>(List.of("bench", "load", "--model", model.toString(), "--data",
        data.toString(), "--concurrency", "1,4", "--seconds", "1", "--requests", "400", "--baseline-seconds", "0.5",
        "--max-wait-us", "500", "--warmup", "4", "--json"));
    args.addAll(List.of(extra));
    StdStreams.Captured c = StdStreams.capture(() -> Main.run(args.toArray(String[]::new)));
    assertThat(c.code()).as(c.err()).isZero();
    return new ObjectMapper().readTree(c.out());
  }

  @Test
  void benchLoad_tinyModel_printsSaneJson() throws Exception {
    JsonNode n = benchLoad();
    assertThat(n.get("rounds").asInt()).isEqualTo(1);
    assertThat(n.has("byRound")).isFalse();
    assertThat(n.get("grpc")).hasSize(2);
    for (JsonNode l : n.get("grpc")) {
      assertThat(l.get("errors").asLong()).as(l.toString()).isZero();
      assertThat(l.get("requests").asLong()).isPositive().isLessThanOrEqualTo(400);
      assertThat(l.get("p50Ms").asDouble()).isPositive().isLessThanOrEqualTo(l.get("p90Ms").asDouble());
      assertThat(l.get("p90Ms").asDouble()).isLessThanOrEqualTo(l.get("p99Ms").asDouble());
      assertThat(l.get("rowsPerSecond").asDouble()).isPositive();
      assertThat(l.at("/cpuMsByThreadGroup/inference").asDouble()).isPositive();
      // every request ran in a batch: at least one batch, no more batches than requests
      assertThat(l.get("batches").asLong()).isPositive().isLessThanOrEqualTo(l.get("requests").asLong());
      assertThat(l.get("meanBatchRows").asDouble()).isBetween(1.0, (double) l.get("concurrency").asInt());
    }
    assertThat(n.get("grpc").get(1).get("concurrency").asInt()).isEqualTo(4);
    assertThat(n.at("/inProcess/batch1/requests").asLong()).isPositive();
    assertThat(n.at("/inProcess/batched/rows").asLong()).isPositive();
    assertThat(n.at("/ratios/grpcRowsPerSecondOverInProcessBatched").asDouble()).isPositive();
    assertThat(n.at("/ratios/p99MsConcurrency1MinusInProcessBatch1P99").isNumber()).isTrue();
    assertThat(n.get("peakRssMb").asDouble()).isPositive();
  }

  @Test
  void benchLoad_rounds_interleavesLevelsAndBaseline_ratiosAreMedians() throws Exception {
    JsonNode n = benchLoad("--rounds", "3");
    assertThat(n.get("rounds").asInt()).isEqualTo(3);
    assertThat(n.get("byRound")).hasSize(3);
    for (JsonNode r : n.get("byRound")) {
      assertThat(r.get("grpc")).hasSize(2);
      assertThat(r.at("/inProcess/batch1/requests").asLong()).isPositive();
      assertThat(r.at("/inProcess/batched/rows").asLong()).isPositive();
    }
    assertThat(n.get("grpc")).isEqualTo(n.get("byRound").get(2).get("grpc"));
    for (String k : List.of("grpcRowsPerSecondOverInProcessBatched", "p99MsConcurrency1MinusInProcessBatch1P99")) {
      List<Double> v = new java.util.ArrayList<>();
      n.get("byRound").forEach(r -> v.add(r.get("ratios").get(k).asDouble()));
      v.sort(null);
      assertThat(n.get("ratios").get(k).asDouble()).as(k).isEqualTo(v.get(1));
    }
    assertThat(n.get("peakRssServingMb").asDouble()).isPositive().isLessThanOrEqualTo(n.get("peakRssMb").asDouble());
  }
}

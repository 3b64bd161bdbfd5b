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

/** {@code finemix bench screen} end to end on a tiny random BERT: both models serve, the ratio comes out. */
class BenchScreenCommandTest {
  @TempDir
  Path tmp;

  @Test
  void benchScreen_tinyModel_printsPlainScreenedAndRatio() throws Exception {
    TinyBert.write(tmp.resolve("models").resolve("tiny-pre"), List.of("negative", "positive"), 1, Pretrained.MINILM);
    Path model = TinyBert.write(tmp.resolve("models").resolve("tiny"), List.of("negative", "positive"), 3,
        "tiny-pre");
    StringBuilder rows = new StringBuilder("label\ttext\n");
    for (int i = 0; i < 12; i++) {
      rows.append(i % 2).append('\t').append(i % 2 == 0 ? "a dull film, take " : "a good film, take ").append(i)
          .append('\n');
    }
    Path clean = Files.writeString(tmp.resolve("clean.tsv"), rows);
    StdStreams.Captured c = StdStreams.capture(() -> Main.run("bench", "screen", "--model", model.toString(), "--clean",
        clean.toString(), "--data", clean.toString(), "--batch", "4", "--requests", "3", "--warmup", "1", "--word-freq",
        tmp.resolve("absent.tsv").toString(), "--json"));

    assertThat(c.code()).as(c.err()).isZero();
    JsonNode n = new ObjectMapper().readTree(c.out());
    assertThat(n.get("requests").asInt()).isEqualTo(3);
    assertThat(n.get("screenedRows").asLong()).isEqualTo(12);
    assertThat(n.get("calibrationRows").asInt()).isEqualTo(12);
    assertThat(n.get("wordFrequencies").asText()).isEqualTo("none");
    assertThat(n.at("/plain/wallMsMean").asDouble()).isPositive();
    assertThat(n.at("/screened/cpuMsMean").asDouble()).isNotNegative(); // 10 ms CPU ticks: 0 is possible
    assertThat(n.at("/ratio/wallMean").asDouble()).isPositive();
    JsonNode cpuRatio = n.at("/ratio/cpuMean");
    assertThat(cpuRatio.isNull() || cpuRatio.asDouble() > 0).as("cpu ratio %s", cpuRatio).isTrue();
  }
}

package dev.finemix.app;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finemix.server.testing.JvmMemoryFlags;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code finemix bench purify} on the real MiniLM, in a JVM started with the image's JVM options and malloc setting
 * (deploy/Dockerfile): the purification fits the image's heap and direct-buffer bounds, every stage's peak is
 * reported, and {@code --record} writes the figures the manifests are checked against.
 */
class BenchPurifyCommandTest {
  static final Path SHARED = Path.of(System.getProperty("finemix.shared", "../shared"));

  @TempDir
  Path tmp;

  @Test
  void benchPurify_underTheImagesJvmBounds_reportsEveryStagesPeakAndRecordsIt() throws Exception {
    JvmMemoryFlags image = JvmMemoryFlags.ofImage();
    String arenas = JvmMemoryFlags.dockerEnv("MALLOC_ARENA_MAX");
    // explicit bounds: the same in every pod whatever its limit (ManifestsTest checks them against the limits)
    assertThat(image.options()).anyMatch(o -> o.startsWith("-Xmx"));
    assertThat(image.xx("MaxDirectMemorySize")).isNotNull();
    assertThat(arenas).as("MALLOC_ARENA_MAX in the image").isNotNull();
    Path peaks = tmp.resolve("peaks.json");
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
    // the image's options, with this machine's temp folder for the image's /tmp/finemix
    image.options().stream().filter(o -> !o.startsWith("-Djava.io.tmpdir=")).forEach(cmd::add);
    cmd.addAll(List.of("-Djava.io.tmpdir=" + tmp, "-Dfinemix.shared=" + SHARED.toAbsolutePath(), "-cp",
        System.getProperty("java.class.path"), Main.class.getName(), "bench", "purify",
        "--clean", SHARED.resolve("data/sst2/dev.tsv").toAbsolutePath().toString(), "--runs", "16:0.3",
        "--defence", "{\"epochs\": 1, \"unlabelled_rows\": 0}", "--record", peaks.toString(), "--record-as", "smoke",
        "--json"));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(tmp.toFile())
        .redirectError(tmp.resolve("stderr.txt").toFile()).redirectOutput(tmp.resolve("stdout.txt").toFile());
    pb.environment().put("MALLOC_ARENA_MAX", arenas);
    Process p = pb.start();
    boolean exited = p.waitFor(20, TimeUnit.MINUTES); // a hang guard, not a speed bound
    if (!exited) {
      p.destroyForcibly();
    }
    String err = Files.readString(tmp.resolve("stderr.txt"), StandardCharsets.UTF_8);

    assertThat(exited && p.exitValue() == 0).as("exit; stderr:%n%s", err).isTrue();
    JsonNode out = new ObjectMapper().readTree(tmp.resolve("stdout.txt").toFile());
    JsonNode run = out.path("runs").get(0);
    JsonNode mem = run.path("memory");
    assertThat(mem.fieldNames()).toIterable()
        .containsExactlyInAnyOrder("load", "epur", "teacher", "mix", "recover", "score", "write", "all");
    for (String stage : List.of("load", "epur", "teacher", "mix", "recover", "score", "write")) {
      assertThat(mem.path(stage).path("rssMb").asDouble()).as(stage).isPositive();
    }
    double heapMaxMb = image.heapBytes(0) / (double) (1 << 20);
    double directMaxMb = image.directBytes(0) / (double) (1 << 20);
    assertThat(mem.at("/all/heapCommittedMb").asDouble()).isPositive().isLessThanOrEqualTo(heapMaxMb);
    assertThat(mem.at("/all/heapResidentMb").asDouble()).isPositive().isLessThanOrEqualTo(heapMaxMb);
    assertThat(mem.at("/all/directMb").asDouble()).isPositive().isLessThanOrEqualTo(directMaxMb);
    assertThat(run.path("peakRssMb").asDouble()).isEqualTo(mem.at("/all/rssMb").asDouble(), within(0.1));

    JsonNode fig = new ObjectMapper().readTree(peaks.toFile()).at("/figures/smoke");
    assertThat(fig.path("peakRssMb").asLong()).isEqualTo(Math.round(run.path("peakRssMb").asDouble()));
    assertThat(fig.path("command").asText()).startsWith("finemix bench purify --clean").contains("--runs 16:0.3");
    assertThat(fig.path("heapMaxMb").asDouble()).isEqualTo(Math.round(heapMaxMb), within(1.0));
    assertThat(fig.path("directMaxMb").asDouble()).isEqualTo(Math.round(directMaxMb), within(1.0));
    assertThat(fig.path("mallocArenaMax").asText()).isEqualTo(arenas);
    assertThat(fig.path("jvmOptions").toString()).contains(image.options().get(0));
    assertThat(fig.path("stages").path("recover").path("nativeRestMb").asDouble()).isPositive();
  }

  private static org.assertj.core.data.Offset<Double> within(double d) {
    return org.assertj.core.data.Offset.offset(d);
  }
}

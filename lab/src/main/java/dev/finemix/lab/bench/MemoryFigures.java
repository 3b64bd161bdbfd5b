package dev.finemix.lab.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.management.HotSpotDiagnosticMXBean;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.LocalDate;

/**
 * The measured peak memory of a purification, kept in a JSON file ({@code deploy/memory-peaks.json}) that the
 * manifests are sized from and checked against: per name, the command, the JVM's bounds and options it ran under,
 * the peak RSS and where it went (heap, direct buffers, native).
 */
final class MemoryFigures {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final double MB = 1024.0 * 1024.0;

  private MemoryFigures() {
  }

  /**
   * Puts the figures of one {@code bench purify} result under {@code name} in {@code file} (other names are kept);
   * the file is replaced atomically.
   */
  static void record(Path file, String name, String command, ObjectNode bench) {
    ObjectNode top;
    try {
      top = Files.exists(file) && JSON.readTree(file.toFile()) instanceof ObjectNode o ? o : JSON.createObjectNode();
    } catch (IOException e) {
      throw new IllegalArgumentException("--record " + file + " is not a JSON object: " + e.getMessage());
    }
    top.put("about", "Peak memory of purifications, written by `finemix bench purify --record`; the manifests'"
        + " memory limits and JVM bounds are checked against it (ManifestsTest)");
    ObjectNode n = JSON.createObjectNode();
    n.put("command", command);
    n.put("date", LocalDate.now().toString());
    ArrayNode opts = n.putArray("jvmOptions");
    ManagementFactory.getRuntimeMXBean().getInputArguments().forEach(opts::add);
    n.put("mallocArenaMax", System.getenv("MALLOC_ARENA_MAX"));
    n.put("heapMaxMb", Math.round(Runtime.getRuntime().maxMemory() / MB));
    n.put("directMaxMb", Math.round(directMax() / MB));
    n.put("intraOpThreads", bench.path("intraOpThreads").asInt());
    n.put("loadAverage1m", bench.path("loadAverage1m").asDouble());
    // the run with the highest peak speaks for the command
    JsonNode worst = null;
    for (JsonNode r : bench.path("runs")) {
      if (worst == null || r.path("peakRssMb").asDouble() > worst.path("peakRssMb").asDouble()) {
        worst = r;
      }
    }
    if (worst == null) {
      throw new IllegalStateException("no run to record");
    }
    n.put("run", worst.path("rows").asText() + ":" + worst.path("rho").asText());
    n.put("peakRssMb", Math.round(worst.path("peakRssMb").asDouble()));
    n.set("peak", worst.path("memory").path("all"));
    n.set("stages", worst.path("memory"));
    top.withObjectProperty("figures").set(name, n);
    try {
      Path dir = file.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, ".memory-", ".json");
      Files.writeString(tmp, JSON.writerWithDefaultPrettyPrinter().writeValueAsString(top) + "\n");
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  /** -XX:MaxDirectMemorySize in bytes; 0 (unset) means the JVM's default, the maximum heap. */
  static long directMax() {
    String v = ManagementFactory.getPlatformMXBean(HotSpotDiagnosticMXBean.class)
        .getVMOption("MaxDirectMemorySize").getValue();
    long b = Long.parseLong(v);
    return b > 0 ? b : Runtime.getRuntime().maxMemory();
  }
}

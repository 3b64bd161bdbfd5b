package dev.finemix.client.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.PerfDriver;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * The load levels of {@code finemix load} and {@code finemix bench load} (a picocli mixin, so both take the same
 * options): warm-up, then each closed-loop concurrency level or open-loop request rate once through a
 * {@link PerfDriver}, each level as one JSON object with the same field names in both commands.
 */
public final class LoadLevels {
  /** Adds what a caller measures on its own side of a level (bench load: the server's CPU by thread, its batches). */
  @FunctionalInterface
  public interface Observer {
    Observer NONE = () -> (level, json) -> { };

    /** Called before a level starts; what it returns is called when the level has ended. */
    After before();

    /** The second half of an {@link Observer}. */
    @FunctionalInterface
    interface After {
      void after(PerfDriver.Level level, ObjectNode json);
    }
  }

  @Option(names = "--concurrency", split = ",", defaultValue = "1,4,16,64",
      description = "Closed-loop levels (default: ${DEFAULT-VALUE}).")
  List<Integer> concurrency;

  @Option(names = "--rate", split = ",", paramLabel = "REQ_PER_S",
      description = "Open-loop request rates instead of concurrency levels.")
  List<Double> rates;

  @Option(names = "--max-in-flight", defaultValue = "256",
      description = "Rate mode: outstanding requests at most (default: ${DEFAULT-VALUE}).")
  int maxInFlight;

  @Option(names = "--seconds", defaultValue = "15", description = "Time bound per level (default: ${DEFAULT-VALUE}).")
  double seconds;

  @Option(names = "--requests", defaultValue = "2000",
      description = "Request bound per level (default: ${DEFAULT-VALUE}).")
  long requests;

  @Option(names = "--texts-per-request", defaultValue = "1",
      description = "Texts per request (default: ${DEFAULT-VALUE}).")
  int textsPerRequest;

  // with 40, then 400, the first levels still paid for C2 compiling the gRPC/Netty paths (the compiler thread used 10%
  // of a core during c1 after 400), so they measured warm-up, not serving
  @Option(names = "--warmup", defaultValue = "4000", description = "Warm-up requests before the levels, sequential "
      + "and again at concurrency 4 (default: ${DEFAULT-VALUE}; HotSpot's C2 compiles a per-request path after ~10,000"
      + " calls, so fewer leave the JIT busy during the first levels).")
  int warmup;

  /** The request bound of each level. */
  public long requests() {
    return requests;
  }

  /** Texts in each request. */
  public int textsPerRequest() {
    return textsPerRequest;
  }

  /** Warm-up requests. */
  public int warmup() {
    return warmup;
  }

  /** A driver that sends {@code texts} through {@code call}, {@code --texts-per-request} at a time. */
  public PerfDriver driver(PerfDriver.Call call, List<String> texts) {
    return new PerfDriver(call, texts, textsPerRequest);
  }

  /** {@code --warmup} requests one after another, then again at concurrency 4 (JIT the concurrent paths too). */
  public void warmUp(PerfDriver d) throws InterruptedException {
    if (warmup > 0) {
      d.warmUp(warmup);
      d.concurrency(4, warmup, Duration.ofSeconds(30));
    }
  }

  /** Every level once, each appended to {@code into}. */
  public ArrayNode run(PerfDriver d, ArrayNode into, Observer observer) throws InterruptedException {
    Duration bound = Duration.ofMillis((long) (seconds * 1000));
    boolean byRate = rates != null && !rates.isEmpty();
    for (Number x : byRate ? rates : concurrency) {
      Observer.After after = observer.before();
      PerfDriver.Level l = byRate ? d.rate(x.doubleValue(), maxInFlight, requests, bound)
          : d.concurrency(x.intValue(), requests, bound);
      ObjectNode n = json(l);
      after.after(l, n);
      into.add(n);
    }
    return into;
  }

  /** One level as JSON: the field names docs/performance.md lists. */
  public static ObjectNode json(PerfDriver.Level l) {
    ObjectNode n = Cli.JSON.createObjectNode();
    n.put("mode", l.mode());
    n.put("concurrency", l.concurrency());
    if (l.targetRate() > 0) {
      n.put("targetRate", l.targetRate());
    }
    n.put("requests", l.requests());
    n.put("rows", l.rows());
    n.put("errors", l.errors());
    ObjectNode e = n.putObject("errorsByCode");
    l.errorsByCode().forEach(e::put);
    n.put("seconds", l.seconds());
    n.put("requestsPerSecond", l.requestsPerSecond());
    n.put("rowsPerSecond", l.rowsPerSecond());
    n.put("p50Ms", l.p50Millis());
    n.put("p90Ms", l.p90Millis());
    n.put("p99Ms", l.p99Millis());
    n.put("meanMs", l.meanMillis());
    n.put("maxMs", l.maxMillis());
    n.put("cpuMsPerRow", l.cpuMillisPerRow());
    n.put("loadAverage1m", l.loadAverage());
    return n;
  }

  /** The table header of {@link #printRow}. */
  public static void printHeader(PrintWriter out) {
    out.printf(Locale.ROOT, "%-22s %9s %9s %9s %9s %9s %9s %7s %8s %6s %10s%n", "level", "requests", "rows/s", "req/s",
        "p50 ms", "p90 ms", "p99 ms", "errors", "cpu ms/r", "load", "rows/batch");
  }

  /** Each gRPC level of {@code levels} as a table row. */
  public static void printGrpc(JsonNode levels, PrintWriter out) {
    for (JsonNode n : levels) {
      printRow("grpc " + ("rate".equals(n.get("mode").asText())
          ? "rate " + n.get("targetRate").asDouble() : "concurrency " + n.get("concurrency").asInt()), n, out);
    }
  }

  /** One level as a table row ({@code rows/batch} when the caller measured the server's batches). */
  public static void printRow(String name, JsonNode n, PrintWriter out) {
    out.printf(Locale.ROOT, "%-22s %9d %9.1f %9.1f %9.1f %9.1f %9.1f %7d %8.2f %6.2f %10s%n", name,
        n.get("requests").asLong(), n.get("rowsPerSecond").asDouble(), n.get("requestsPerSecond").asDouble(),
        n.get("p50Ms").asDouble(), n.get("p90Ms").asDouble(), n.get("p99Ms").asDouble(), n.get("errors").asLong(),
        n.get("cpuMsPerRow").asDouble(), n.get("loadAverage1m").asDouble(),
        n.has("meanBatchRows") ? String.format(Locale.ROOT, "%.1f", n.get("meanBatchRows").asDouble()) : "");
  }
}

package dev.finemix.app;

import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.PerfDriver;
import dev.finemix.client.cli.DeviceOption;
import dev.finemix.client.cli.JsonOption;
import dev.finemix.client.cli.LoadLevels;
import dev.finemix.lab.DemoFiles;
import dev.finemix.lab.bench.BenchCommand;
import dev.finemix.lab.bench.InProcessBaseline;
import dev.finemix.lab.bench.ThreadCpu;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.train.Devices;
import dev.finemix.server.config.BatchingLayer;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.metrics.ServerMetrics;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code finemix bench load}: an in-process sidecar on a loopback port, driven over real gRPC (Netty, plaintext) at
 * fixed concurrency levels or request rates by the client's load driver ({@link LoadLevels}, the levels of
 * {@code finemix load}), plus lab's {@link InProcessBaseline} (purify's classifier called directly at batch 1 and at
 * the server's max batch), so that the serving overhead is a ratio from one run. What only an in-process server
 * shows is added to each gRPC level here: CPU by thread group and the server's batches.
 */
@Command(name = "load", mixinStandardHelpOptions = true,
    description = "Serve a model on a loopback port, drive Classify over gRPC (perf_analyzer style) and compare with"
        + " the model called in-process.")
public final class BenchLoadCommand implements Callable<Integer> {
  static final String MODEL = "bench";

  @Option(names = "--model", paramLabel = "CKPT",
      description = "Checkpoint folder served unpurified (default: the demo's checkpoint when present).")
  Path model;

  @Option(names = "--data", paramLabel = "TSV",
      description = "Sentences (label<TAB>text); default ../shared/data/sst2/dev.tsv, else the bundled demo rows.")
  Path data;

  @Mixin
  LoadLevels load;

  @Option(names = "--max-batch-size", defaultValue = "32", description = "Server batching (default: ${DEFAULT-VALUE}).")
  int maxBatchSize;

  @Option(names = "--max-wait-us", defaultValue = "2000", description = "Server batching wait (default: ${DEFAULT-VALUE}).")
  long maxWaitMicros;

  @Option(names = "--max-concurrent-batches", defaultValue = "1",
      description = "Batches of the model running at once (default: ${DEFAULT-VALUE}).")
  int maxConcurrentBatches;

  @Option(names = "--queue-capacity", defaultValue = "256", description = "Server queue (default: ${DEFAULT-VALUE}).")
  int queueCapacity;

  @Option(names = "--inference-threads", defaultValue = "1",
      description = "Server inference threads (default: ${DEFAULT-VALUE}).")
  int inferenceThreads;

  @Option(names = "--baseline-seconds", defaultValue = "10",
      description = "Time bound of each in-process baseline; 0 skips the baseline (default: ${DEFAULT-VALUE}).")
  double baselineSeconds;

  @Option(names = "--rounds", defaultValue = "1",
      description = "Rounds of interleaved measurement: each round runs every gRPC level and then the in-process"
          + " baseline (model open beside the server), so each ratio compares figures taken minutes, not a run, apart;"
          + " ratios are the medians over rounds. 1: all gRPC levels, then the baseline after the server closed"
          + " (default: ${DEFAULT-VALUE}).")
  int rounds;

  @Mixin DeviceOption device = DeviceOption.cpu();

  @Mixin JsonOption json;

  @Override
  public Integer call() throws Exception {
    Path ckpt = resolveModel();
    List<String> texts = texts();
    ObjectNode out = new ObjectMapper().createObjectNode();
    out.put("model", ckpt.toString());
    out.put("sentences", texts.size());
    out.put("device", Devices.choose(device.get()).toString()); // also starts the engine
    out.put("intraOpThreads", JniUtils.getNumThreads());
    out.put("inferenceThreads", inferenceThreads);
    out.put("cores", Runtime.getRuntime().availableProcessors());
    ObjectNode b = out.putObject("batching");
    b.put("maxBatchSize", maxBatchSize);
    b.put("maxWaitMicros", maxWaitMicros);
    b.put("maxConcurrentBatches", maxConcurrentBatches);
    b.put("queueCapacity", queueCapacity);
    out.put("textsPerRequest", load.textsPerRequest());

    if (rounds < 1) {
      throw new IllegalArgumentException("--rounds must be >= 1, got " + rounds);
    }
    boolean interleaved = rounds > 1 && baselineSeconds > 0;
    out.put("rounds", interleaved ? rounds : 1);
    LoopbackSidecar.inQuietTmp("finemix-bench-", tmp -> runServer(ckpt, tmp, texts, out, (d, server) -> {
      if (interleaved) {
        rounds(ckpt, texts, d, server, out);
      } else {
        levels(d, server, out.putArray("grpc"));
      }
    }));
    out.put("rssAfterServingMb", BenchCommand.rssMb("VmRSS:"));
    if (!interleaved) {
      out.put("peakRssServingMb", BenchCommand.rssMb("VmHWM:"));
      if (baselineSeconds > 0) {
        try (InProcessBaseline c = baseline(ckpt, texts)) {
          c.measure(baselineBound(), out.putObject("inProcess"));
        }
        ratios(out);
      }
    }
    out.put("peakRssMb", BenchCommand.rssMb("VmHWM:"));
    out.put("loadAverage1m", PerfDriver.loadAverage());
    if (json.on()) {
      System.out.println(out.toPrettyString());
    } else {
      PrintWriter w = new PrintWriter(System.out);
      print(out, w);
      w.flush();
    }
    return 0;
  }

  /** What runs against the warmed-up server. */
  @FunctionalInterface
  private interface Body {
    void run(PerfDriver driver, FinemixServer server) throws Exception;
  }

  private void runServer(Path ckpt, Path tmp, List<String> texts, ObjectNode out, Body body) throws Exception {
    Path root = ckpt.toAbsolutePath().normalize().getParent();
    BatchingLayer batching = new BatchingLayer(maxBatchSize, maxWaitMicros, queueCapacity, maxConcurrentBatches);
    ModelLayer entry = ModelLayer.builder().name(MODEL).checkpoint(ckpt.getFileName().toString())
        .allowUnpurified(true).batching(batching).build();
    ServerConfig cfg = LoopbackSidecar.config(root, root, tmp, List.of(entry)).inferenceThreads(inferenceThreads)
        .build();
    long loadStart = System.nanoTime();
    LoopbackSidecar.serve(cfg, device.get(), (server, client) -> {
      ModelInfo info = client.awaitSettled(MODEL, Duration.ofMinutes(5));
      if (info.getState() != ModelState.SERVING) {
        throw new IllegalStateException("model did not start serving: " + info.getState() + " "
            + info.getFailureReason());
      }
      out.put("serverLoadSeconds", (System.nanoTime() - loadStart) / 1e9);
      PerfDriver d = load.driver(t -> client.classify(MODEL, t), texts);
      load.warmUp(d);
      body.run(d, server);
    });
  }

  /**
   * {@code rounds} times every gRPC level and then the in-process baseline (its model opened beside the server, after
   * the serving peak RSS is read); the top-level levels are the last round's, the ratios the medians over rounds.
   */
  private void rounds(Path ckpt, List<String> texts, PerfDriver d, FinemixServer server, ObjectNode out)
      throws InterruptedException {
    out.put("peakRssServingMb", BenchCommand.rssMb("VmHWM:"));
    try (InProcessBaseline c = baseline(ckpt, texts)) {
      ArrayNode all = out.putArray("byRound");
      for (int r = 0; r < rounds; r++) {
        ObjectNode round = all.addObject();
        levels(d, server, round.putArray("grpc"));
        c.measure(baselineBound(), round.putObject("inProcess"));
        ratios(round);
      }
      out.set("grpc", all.get(rounds - 1).get("grpc"));
      out.set("inProcess", all.get(rounds - 1).get("inProcess"));
      medianRatios(all, out.putObject("ratios"));
    }
  }

  /** Every level (concurrency or rate) once, into {@code levels}, with the server's side of each. */
  private void levels(PerfDriver d, FinemixServer server, ArrayNode levels) throws InterruptedException {
    load.run(d, levels, () -> {
      ThreadCpu before = ThreadCpu.snapshot();
      ServerMetrics.BatchTotals b0 = server.metrics().batchTotals();
      return (l, n) -> {
        ThreadCpu.snapshot().putSince(before, n.putObject("cpuMsByThreadGroup"), l.callerCpuSeconds());
        ServerMetrics.BatchTotals b1 = server.metrics().batchTotals();
        long count = b1.batches() - b0.batches();
        n.put("batches", count);
        n.put("meanBatchRows", count > 0 ? (b1.rows() - b0.rows()) / count : 0);
      };
    });
  }

  /** The model opened beside the server, warmed up; each of its levels bounded like a gRPC level. */
  private InProcessBaseline baseline(Path ckpt, List<String> texts) {
    return InProcessBaseline.open(ckpt, device.get(), texts, maxBatchSize, load.requests(), load.warmup());
  }

  private Duration baselineBound() {
    return Duration.ofMillis((long) (baselineSeconds * 1000));
  }

  /** Each ratio's median over the rounds (the middle one; the upper middle of an even count). */
  private static void medianRatios(ArrayNode byRound, ObjectNode into) {
    for (var it = byRound.get(0).get("ratios").fieldNames(); it.hasNext(); ) {
      String k = it.next();
      List<Double> v = new ArrayList<>();
      byRound.forEach(r -> v.add(r.get("ratios").get(k).asDouble()));
      v.sort(null);
      into.put(k, v.get(v.size() / 2));
    }
  }

  /** gRPC / in-process ratios at concurrency 16 (or the highest level) and 1. */
  private static void ratios(ObjectNode out) {
    ObjectNode r = out.putObject("ratios");
    ObjectNode one = (ObjectNode) out.get("inProcess").get("batch1");
    ObjectNode batched = (ObjectNode) out.get("inProcess").get("batched");
    ObjectNode c16 = null;
    ObjectNode c1 = null;
    for (var n : out.get("grpc")) {
      if (!"concurrency".equals(n.get("mode").asText())) {
        continue;
      }
      int c = n.get("concurrency").asInt();
      if (c == 16 || c16 == null || (c16.get("concurrency").asInt() != 16 && c > c16.get("concurrency").asInt())) {
        c16 = (ObjectNode) n;
      }
      if (c == 1) {
        c1 = (ObjectNode) n;
      }
    }
    if (c16 != null) {
      r.put("concurrency", c16.get("concurrency").asInt());
      r.put("grpcRowsPerSecondOverInProcessBatched",
          c16.get("rowsPerSecond").asDouble() / batched.get("rowsPerSecond").asDouble());
      r.put("grpcRowsPerSecondOverInProcessBatch1",
          c16.get("rowsPerSecond").asDouble() / one.get("rowsPerSecond").asDouble());
      r.put("grpcCpuPerRowOverInProcessBatched",
          c16.get("cpuMsPerRow").asDouble() / batched.get("cpuMsPerRow").asDouble());
    }
    if (c1 != null) {
      r.put("p99MsConcurrency1MinusInProcessBatch1P99", c1.get("p99Ms").asDouble() - one.get("p99Ms").asDouble());
      r.put("p50MsConcurrency1MinusInProcessBatch1P50", c1.get("p50Ms").asDouble() - one.get("p50Ms").asDouble());
      r.put("cpuMsPerRowConcurrency1MinusInProcessBatch1",
          c1.get("cpuMsPerRow").asDouble() - one.get("cpuMsPerRow").asDouble());
    }
  }

  private static void print(ObjectNode out, PrintWriter w) {
    w.printf(Locale.ROOT, "model %s; %d sentences; intra-op threads %d, inference threads %d; batching %s%n",
        out.get("model").asText(), out.get("sentences").asInt(), out.get("intraOpThreads").asInt(),
        out.get("inferenceThreads").asInt(), out.get("batching"));
    LoadLevels.printHeader(w);
    LoadLevels.printGrpc(out.get("grpc"), w);
    if (out.has("inProcess")) {
      LoadLevels.printRow("in-process batch 1", out.get("inProcess").get("batch1"), w);
      LoadLevels.printRow("in-process batch " + out.get("inProcess").get("batchedRows").asInt(),
          out.get("inProcess").get("batched"), w);
    }
    if (out.has("byRound")) {
      for (int r = 0; r < out.get("byRound").size(); r++) {
        w.println("round " + (r + 1) + " ratios: " + out.get("byRound").get(r).get("ratios"));
      }
      w.println("(levels above: the last round)");
    }
    if (out.has("ratios")) {
      w.println((out.has("byRound") ? "median ratios: " : "ratios: ") + out.get("ratios"));
    }
    w.printf(Locale.ROOT, "peak RSS while serving %.0f MB (after: %.0f MB), whole run %.0f MB; load %.2f%n",
        out.get("peakRssServingMb").asDouble(), out.get("rssAfterServingMb").asDouble(),
        out.get("peakRssMb").asDouble(), out.get("loadAverage1m").asDouble());
  }

  private Path resolveModel() {
    if (model != null) {
      if (!Files.isRegularFile(model.resolve("config.json"))) {
        throw new IllegalArgumentException("--model " + model + " is not a checkpoint folder (no config.json)");
      }
      return model;
    }
    Path demo = Path.of(".finemix", "demo", "models", "demo-sst2-badnet");
    if (Files.isRegularFile(demo.resolve("config.json"))) {
      return demo;
    }
    throw new IllegalArgumentException("no --model given and no demo checkpoint at " + demo
        + " (run 'finemix demo' once, or pass a checkpoint folder)");
  }

  private List<String> texts() throws IOException {
    Path tsv = data;
    if (tsv == null) {
      Path shared = Path.of("..", "shared", "data", "sst2", "dev.tsv");
      if (Files.isRegularFile(shared)) {
        tsv = shared;
      } else {
        tsv = Files.createTempFile("finemix-bench-", ".tsv");
        DemoFiles.copy("test.tsv", tsv);
        tsv.toFile().deleteOnExit();
      }
    }
    List<String> t = Dataset.read(tsv).rows().stream().map(Example::textA).toList();
    if (t.isEmpty()) {
      throw new IllegalArgumentException("--data " + tsv + " has no rows");
    }
    return t;
  }
}

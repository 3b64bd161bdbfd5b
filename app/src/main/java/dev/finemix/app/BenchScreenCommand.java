package dev.finemix.app;

import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.FinemixClient;
import dev.finemix.client.PerfDriver;
import dev.finemix.client.cli.DeviceOption;
import dev.finemix.client.cli.JsonOption;
import dev.finemix.client.cli.WordFreqOption;
import dev.finemix.lab.DemoFiles;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.Prediction;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.train.Devices;
import dev.finemix.server.config.BatchingLayer;
import dev.finemix.server.config.Json;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ScreenPolicy;
import dev.finemix.server.config.ScreeningLayer;
import dev.finemix.server.config.ServerConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code finemix bench screen}: what request-time screening costs on Classify. One sidecar on a loopback port
 * serves the same checkpoint twice, {@code plain} (screening off) and {@code screened} (observe by default), and
 * the same batches of texts are sent to both in turn, one request at a time; wall and process CPU time per request
 * give the ratio.
 */
@Command(name = "screen", mixinStandardHelpOptions = true,
    description = "Cost of request-time screening: the same model served with screening off and on, Classify at a"
        + " fixed batch size over loopback gRPC, alternating requests; prints the screened/plain ratio.")
public final class BenchScreenCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "CKPT", description = "Checkpoint folder (served unpurified).")
  Path model;

  @Option(names = "--clean", paramLabel = "TSV",
      description = "Clean labelled rows to calibrate on (default: the bundled demo clean rows, 128 SST-2 train rows).")
  Path clean;

  @Option(names = "--data", paramLabel = "TSV",
      description = "Texts to classify (label<TAB>text; default ../shared/data/sst2/dev.tsv).")
  Path data;

  @Option(names = "--batch", defaultValue = "16", description = "Texts per Classify request (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--requests", defaultValue = "0",
      description = "Timed requests per model; 0 = every full batch of --data once (default: ${DEFAULT-VALUE}).")
  int requests;

  @Option(names = "--warmup", defaultValue = "4", description = "Untimed requests per model first (default: ${DEFAULT-VALUE}).")
  int warmup;

  @Option(names = "--policy", defaultValue = "observe", description = "Policy of the screened model: observe, reject"
      + " or strip (default: ${DEFAULT-VALUE}; reject fails requests holding a flagged row).")
  String policy;

  @Option(names = "--signal", defaultValue = "tokens", description = "Screening signal (default: ${DEFAULT-VALUE}).")
  String signal;

  @Mixin WordFreqOption wordFreq;

  @Mixin DeviceOption device = DeviceOption.cpu();

  @Mixin JsonOption json;

  @Override
  public Integer call() throws Exception {
    if (batch < 1 || warmup < 0 || requests < 0) {
      throw new IllegalArgumentException("--batch must be >= 1, --warmup and --requests >= 0");
    }
    ScreenPolicy screened = ScreenPolicy.parse(policy);
    if (screened == ScreenPolicy.OFF) {
      throw new IllegalArgumentException("--policy must screen: observe, reject or strip");
    }
    if (!Files.isRegularFile(model.resolve("config.json"))) {
      throw new IllegalArgumentException("--model " + model + " is not a checkpoint folder (no config.json)");
    }
    List<List<String>> batches = batches(texts());
    ObjectNode out = new ObjectMapper().createObjectNode();
    out.put("model", model.toString());
    out.put("device", Devices.choose(device.get()).toString());
    out.put("intraOpThreads", JniUtils.getNumThreads());
    out.put("batch", batch);
    out.put("policy", screened.id());
    out.put("signal", signal);
    LoopbackSidecar.inQuietTmp("finemix-bench-screen-", tmp -> run(tmp, screened, batches, out));
    out.put("loadAverage1m", PerfDriver.loadAverage());
    if (json.on()) {
      System.out.println(out.toPrettyString());
    } else {
      System.out.printf(Locale.ROOT, "%s, batch %d, %d timed requests per model, intra-op threads %d, load %.2f%n",
          model.getFileName(), batch, out.get("requests").asInt(), out.get("intraOpThreads").asInt(),
          out.get("loadAverage1m").asDouble());
      for (String m : List.of("plain", "screened")) {
        ObjectNode n = (ObjectNode) out.get(m);
        System.out.printf(Locale.ROOT, "%-9s wall %8.1f ms/request (median %8.1f), cpu %8.1f ms/request%n", m,
            n.get("wallMsMean").asDouble(), n.get("wallMsMedian").asDouble(), n.get("cpuMsMean").asDouble());
      }
      JsonNode cpuRatio = out.at("/ratio/cpuMean");
      System.out.printf(Locale.ROOT, "screened / plain: wall %.3fx (median %.3fx), cpu %s; %d of %d rows flagged"
          + " (threshold %.4g)%n", out.at("/ratio/wallMean").asDouble(), out.at("/ratio/wallMedian").asDouble(),
          cpuRatio.isNumber() ? String.format(Locale.ROOT, "%.3fx", cpuRatio.asDouble()) : "n/a (too little CPU time)",
          out.get("flaggedRows").asLong(), out.get("screenedRows").asLong(),
          out.get("threshold").asDouble());
    }
    return 0;
  }

  private void run(Path tmp, ScreenPolicy screened, List<List<String>> batches, ObjectNode out) throws Exception {
    Path root = model.toAbsolutePath().normalize().getParent();
    Path dataRoot = Files.createDirectories(tmp.resolve("data"));
    copyClean(dataRoot.resolve("clean.tsv"));
    ObjectNode defence = Json.object();
    Path wf = wordFreq.orShared();
    if (wf != null && Files.isRegularFile(wf)) {
      Files.copy(wf, dataRoot.resolve("wordfreq.tsv"));
      defence.put("word_frequencies", "wordfreq.tsv");
    }
    out.put("wordFrequencies", defence.has("word_frequencies") ? wf.toString() : "none");
    BatchingLayer batching = new BatchingLayer(Math.max(batch, 32), 0L, 64, 1);
    String ckpt = model.toAbsolutePath().normalize().getFileName().toString();
    ModelLayer.Builder entry = ModelLayer.builder().checkpoint(ckpt).cleanSubset("clean.tsv").allowUnpurified(true)
        .defence(defence).batching(batching);
    ModelLayer plain = entry.name("plain").screening(new ScreeningLayer(ScreenPolicy.OFF, null, null)).build();
    ModelLayer scr = entry.name("screened").screening(new ScreeningLayer(screened, null, signal)).build();
    ServerConfig cfg = LoopbackSidecar.config(root, dataRoot, tmp, List.of(plain, scr)).inferenceThreads(1)
        .probeRows(1).build();
    LoopbackSidecar.serve(cfg, device.get(), (server, client) -> {
      for (String m : List.of("plain", "screened")) {
        ModelInfo info = client.awaitSettled(m, Duration.ofMinutes(5));
        if (info.getState() != ModelState.SERVING) {
          throw new IllegalStateException("model " + m + " did not start serving: " + info.getFailureReason());
        }
        client.probe(m, false); // the start-up probe, out of the way of the timing
      }
      var cal = client.probe("screened", false).getScreening();
      if (cal.getRows() == 0) {
        throw new IllegalStateException("the screened model is not screened: " + cal.getUnavailableReason());
      }
      out.put("threshold", cal.getThreshold());
      out.put("calibrationRows", cal.getRows());
      for (int i = 0; i < warmup; i++) {
        List<String> b = batches.get(i % batches.size());
        call(client, "plain", b);
        call(client, "screened", b);
      }
      int n = requests > 0 ? requests : batches.size();
      long[][] wall = new long[2][n];
      long[][] cpu = new long[2][n];
      long flagged = 0;
      for (int i = 0; i < n; i++) {
        List<String> b = batches.get(i % batches.size());
        // alternate which goes first, so that neither always runs on a cache warmed by the other
        for (int k = 0; k < 2; k++) {
          int which = (i + k) % 2;
          long c0 = PerfDriver.processCpuNanos();
          long t0 = System.nanoTime();
          List<Prediction> p = call(client, which == 0 ? "plain" : "screened", b);
          wall[which][i] = System.nanoTime() - t0;
          cpu[which][i] = PerfDriver.processCpuNanos() - c0;
          if (which == 1) {
            flagged += p.stream().filter(x -> x.getSuspicion().getFlagged()).count();
          }
        }
      }
      out.put("requests", n);
      out.put("screenedRows", (long) n * batch);
      out.put("flaggedRows", flagged);
      ObjectNode r = out.putObject("ratio");
      ObjectNode[] nodes = {out.putObject("plain"), out.putObject("screened")};
      for (int k = 0; k < 2; k++) {
        nodes[k].put("wallMsMean", mean(wall[k]));
        nodes[k].put("wallMsMedian", median(wall[k]));
        nodes[k].put("cpuMsMean", mean(cpu[k]));
        nodes[k].put("cpuMsMedian", median(cpu[k]));
        nodes[k].put("wallMsPerRow", mean(wall[k]) / batch);
      }
      r.put("wallMean", mean(wall[1]) / mean(wall[0]));
      r.put("wallMedian", median(wall[1]) / median(wall[0]));
      // process CPU time ticks in 10 ms steps: a few short requests can read 0 on either side, and then there is
      // no ratio (0 on the screened side is not "free", it is below the clock's resolution)
      if (mean(cpu[0]) > 0 && mean(cpu[1]) > 0) {
        r.put("cpuMean", mean(cpu[1]) / mean(cpu[0]));
      } else {
        r.putNull("cpuMean");
      }
    });
  }

  /** Classify; under reject a request holding a flagged row fails, which is its cost too. */
  private static List<Prediction> call(FinemixClient client, String model, List<String> texts) {
    try {
      return client.classify(model, texts);
    } catch (io.grpc.StatusRuntimeException e) {
      if (e.getStatus().getCode() == io.grpc.Status.Code.FAILED_PRECONDITION) {
        return List.of();
      }
      throw e;
    }
  }

  private static double mean(long[] nanos) {
    return Arrays.stream(nanos).average().orElse(Double.NaN) / 1e6;
  }

  private static double median(long[] nanos) {
    long[] s = nanos.clone();
    Arrays.sort(s);
    return s.length == 0 ? Double.NaN : s[s.length / 2] / 1e6;
  }

  private List<List<String>> batches(List<String> texts) {
    List<List<String>> out = new ArrayList<>();
    for (int i = 0; i + batch <= texts.size(); i += batch) {
      out.add(texts.subList(i, i + batch));
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("--data has " + texts.size() + " rows, fewer than one batch of " + batch);
    }
    return out;
  }

  private List<String> texts() throws IOException {
    Path tsv = data != null ? data : Path.of("..", "shared", "data", "sst2", "dev.tsv");
    if (!Files.isRegularFile(tsv)) {
      throw new IllegalArgumentException("no --data given and no " + tsv);
    }
    return Dataset.read(tsv).rows().stream().map(Example::textA).toList();
  }

  private void copyClean(Path to) throws IOException {
    if (clean != null) {
      Files.copy(clean, to, StandardCopyOption.REPLACE_EXISTING);
      return;
    }
    DemoFiles.copy("clean.tsv", to);
  }
}

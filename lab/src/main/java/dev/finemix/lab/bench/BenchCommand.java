package dev.finemix.lab.bench;

import ai.djl.Device;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.cli.DeviceOption;
import dev.finemix.client.cli.JsonOption;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.onnx.Agreement;
import dev.finemix.purify.onnx.OnnxClassifier;
import dev.finemix.purify.onnx.Precision;
import dev.finemix.purify.text.Batch;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.train.TrainRow;
import dev.finemix.purify.train.TrainSettings;
import dev.finemix.purify.train.Trainer;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import java.util.function.Function;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code finemix bench ...}: benchmarks. The ones here need only the science; the launcher adds {@code bench load}
 * and {@code bench screen}, which start a sidecar in-process and so live in {@code app/}.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks.",
    subcommands = {BenchCommand.ModelBench.class, BenchPurifyCommand.class})
public final class BenchCommand implements Runnable {

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public void run() {
    throw new picocli.CommandLine.ParameterException(spec.commandLine(), "name what to benchmark: "
        + String.join(", ", spec.subcommands().keySet().stream().map(n -> "'bench " + n + "'").toList()));
  }

  /** A figure of {@code /proc/self/status} in MB ({@code VmHWM:} peak RSS, {@code VmRSS:} RSS), or -1 off Linux. */
  public static double rssMb(String key) {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith(key)) {
          return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return -1;
  }

  /**
   * MiniLM inference latency, throughput, one training step, peak RSS; beside them, in the same run on the same
   * weights and shapes, ONNX Runtime at fp32 and int8 (the serving precisions' engine), their speed-ups, and each
   * precision's CACC and prediction agreement with the DJL fp32 model on labelled rows.
   */
  @Command(name = "model", mixinStandardHelpOptions = true,
      description = "MiniLM classifier: latency at batch 1, rows/s at batch 16/32, train step time, peak RSS; "
          + "ONNX Runtime fp32 and int8 on the same weights and shapes, CACC and agreement per precision.")
  static final class ModelBench implements Callable<Integer> {

    @Mixin DeviceOption device;

    @Option(names = "--iterations", defaultValue = "20", description = "Timed runs per batch-1 figure (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--train-steps", defaultValue = "5", description = "Timed training steps (default ${DEFAULT-VALUE}).")
    int trainSteps;

    @Mixin JsonOption json;

    @Option(names = "--random", description = "Random MiniLM-shaped weights instead of the pre-trained ones (same cost).")
    boolean random;

    @Option(names = "--model", description = "Checkpoint folder every engine runs (a purified model: a cache entry, "
        + "or `purify --out`); default: the pre-trained MiniLM with a random head (same cost, no CACC).")
    Path model;

    @Option(names = "--dev", description = "Labelled rows for prediction agreement and CACC of each precision "
        + "(default ../shared/data/sst2/dev.tsv when present; none: no agreement figures).")
    Path dev;

    @Option(names = "--no-onnx", description = "Only the DJL/libtorch fp32 model (no ONNX Runtime anchors).")
    boolean noOnnx;

    @Override
    public Integer call() {
      Device d = Devices.choose(device.get());
      ObjectNode n = new ObjectMapper().createObjectNode();
      n.put("device", d.toString());
      n.put("intraOpThreads", JniUtils.getNumThreads());
      n.put("interOpThreads", JniUtils.getNumInteropThreads());
      Checkpoint ck = checkpoint();
      n.put("model", model != null ? model.toString() : random ? "random MiniLM-shaped weights"
          : "pre-trained MiniLM, random head");
      List<Encoding> b1s32 = encodings(new Random(1), 1, 32);
      List<Encoding> b1s128 = encodings(new Random(2), 1, 128);
      List<Encoding> b16s64 = encodings(new Random(3), 16, 64);
      List<Encoding> b32s64 = encodings(new Random(4), 32, 64);
      Map<String, float[][]> devProbs = new LinkedHashMap<>();
      Path rows = devRows();
      List<Example> devSet = rows == null ? List.of() : Dataset.read(rows).rows();
      try (Classifier c = Classifier.open(ck, d)) {
        BertClassifier m = c.model();
        Function<List<Encoding>, float[][]> djl = enc -> m.predictProba(Batch.of(enc));
        n.put("latencyMsBatch1Seq32", medianMillis(djl, b1s32, iterations, "latencyMsBatch1Seq32"));
        n.put("latencyMsBatch1Seq128", medianMillis(djl, b1s128, iterations, "latencyMsBatch1Seq128"));
        double b16 = medianMillis(djl, b16s64, Math.max(3, iterations / 4), "msBatch16Seq64");
        n.put("msBatch16Seq64", b16);
        n.put("rowsPerSecondBatch16Seq64", 16_000 / b16);
        double b32 = medianMillis(djl, b32s64, Math.max(3, iterations / 4), "msBatch32Seq64");
        n.put("rowsPerSecondBatch32Seq64", 32_000 / b32);
        if (!devSet.isEmpty()) {
          devProbs.put("djlFp32", c.model().infer(c.tokenizer().encodeAll(inputs(devSet)), false).probabilities());
        }
        if (!noOnnx) {
          ObjectNode engines = n.putObject("onnxRuntime");
          for (Precision p : Precision.values()) {
            try (OnnxClassifier o = OnnxClassifier.open(ck, p, Math.max(1, JniUtils.getNumThreads()))) {
              String key = "ort" + (p == Precision.FP32 ? "Fp32" : "Int8");
              ObjectNode e = engines.putObject(key);
              Function<List<Encoding>, float[][]> ort = o::probabilities;
              e.put("latencyMsBatch1Seq32", medianMillis(ort, b1s32, iterations, key + "LatencyMsBatch1Seq32"));
              e.put("latencyMsBatch1Seq128", medianMillis(ort, b1s128, iterations, key + "LatencyMsBatch1Seq128"));
              double ob16 = medianMillis(ort, b16s64, Math.max(3, iterations / 4), key + "MsBatch16Seq64");
              e.put("msBatch16Seq64", ob16);
              e.put("rowsPerSecondBatch16Seq64", 16_000 / ob16);
              // speed-ups over the DJL fp32 model, figures from this run
              e.put("speedupBatch1Seq32", n.get("latencyMsBatch1Seq32").asDouble() / e.get("latencyMsBatch1Seq32")
                  .asDouble());
              e.put("speedupBatch1Seq128", n.get("latencyMsBatch1Seq128").asDouble()
                  / e.get("latencyMsBatch1Seq128").asDouble());
              e.put("speedupBatch16Seq64", b16 / ob16);
              // the same from the calling thread's CPU time (with 1 intra-op thread the compute: steadier on a busy box)
              e.put("cpuSpeedupBatch1Seq32", cpuRatio("latencyMsBatch1Seq32", key + "LatencyMsBatch1Seq32"));
              e.put("cpuSpeedupBatch1Seq128", cpuRatio("latencyMsBatch1Seq128", key + "LatencyMsBatch1Seq128"));
              e.put("cpuSpeedupBatch16Seq64", cpuRatio("msBatch16Seq64", key + "MsBatch16Seq64"));
              if (!devSet.isEmpty()) {
                devProbs.put(key, o.probabilities(o.tokenizer().encodeAll(inputs(devSet))));
              }
            }
          }
        }
        n.put("trainStepSecondsBatch16Seq64", trainStepSeconds(m, new Random(1)));
      }
      if (!devSet.isEmpty()) {
        ObjectNode q = n.putObject("quality");
        q.put("rows", devSet.size());
        q.put("data", rows.toString());
        int[] gold = devSet.stream().mapToInt(Example::label).toArray();
        List<Prediction> ref = predictions(devProbs.get("djlFp32"));
        for (Map.Entry<String, float[][]> e : devProbs.entrySet()) {
          ObjectNode f = q.putObject(e.getKey());
          List<Prediction> p = predictions(e.getValue());
          f.put("cacc", accuracy(p, gold));
          Agreement a = Agreement.of(e.getKey().endsWith("Int8") ? Precision.INT8 : Precision.FP32, ref, p);
          f.put("agreementWithDjlFp32", a.agreement());
          f.put("maxProbDiffWithDjlFp32", a.maxProbDiff());
        }
      }
      n.put("peakRssMb", peakRssMb());
      n.put("loadAverage1m", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
      n.set("callingThreadCpuMs", cpu);
      ObjectNode ref = n.putObject("pytorchReference");
      ref.put("latencyMsBatch1Seq32", 7.1);
      ref.put("latencyMsBatch1Seq128", 19.6);
      ref.put("rowsPerSecondBatch16Seq64", 70);
      ref.put("rowsPerSecondBatch32Seq64", 73);
      ref.put("trainStepSecondsBatch16Seq64", 0.80);
      if (json.on()) {
        System.out.println(n.toPrettyString());
      } else {
        System.out.printf(Locale.ROOT, "device %s, intra-op threads %d; model: %s%n", d, JniUtils.getNumThreads(),
            n.get("model").asText());
        System.out.printf(Locale.ROOT, "%-36s %10s %10s%n", "figure", "finemix", "pytorch");
        row("latency batch 1 seq 32 (ms)", n, ref, "latencyMsBatch1Seq32");
        row("latency batch 1 seq 128 (ms)", n, ref, "latencyMsBatch1Seq128");
        row("rows/s batch 16 seq 64", n, ref, "rowsPerSecondBatch16Seq64");
        row("rows/s batch 32 seq 64", n, ref, "rowsPerSecondBatch32Seq64");
        row("train step batch 16 seq 64 (s)", n, ref, "trainStepSecondsBatch16Seq64");
        if (n.has("onnxRuntime")) {
          System.out.printf(Locale.ROOT, "%-36s %10s %10s %10s%n", "same weights, same shapes", "DJL fp32",
              "ORT fp32", "ORT int8");
          engineRow("latency batch 1 seq 32 (ms)", n, "latencyMsBatch1Seq32");
          engineRow("latency batch 1 seq 128 (ms)", n, "latencyMsBatch1Seq128");
          engineRow("rows/s batch 16 seq 64", n, "rowsPerSecondBatch16Seq64");
          engineRow("speed-up batch 1 seq 32", n, "speedupBatch1Seq32");
          engineRow("speed-up batch 1 seq 128", n, "speedupBatch1Seq128");
          engineRow("speed-up batch 16 seq 64", n, "speedupBatch16Seq64");
          engineRow("CPU-time speed-up batch 1 seq 32", n, "cpuSpeedupBatch1Seq32");
          engineRow("CPU-time speed-up batch 1 seq 128", n, "cpuSpeedupBatch1Seq128");
          engineRow("CPU-time speed-up batch 16 seq 64", n, "cpuSpeedupBatch16Seq64");
        }
        if (n.has("quality")) {
          JsonNode q = n.get("quality");
          System.out.printf(Locale.ROOT, "%-36s %10s %10s %10s%n", q.get("rows").asInt() + " rows of " + rows.getFileName(),
              "DJL fp32", "ORT fp32", "ORT int8");
          for (String k : List.of("cacc", "agreementWithDjlFp32", "maxProbDiffWithDjlFp32")) {
            System.out.printf(Locale.ROOT, "%-36s %10s %10s %10s%n", k, fig(q, "djlFp32", k), fig(q, "ortFp32", k),
                fig(q, "ortInt8", k));
          }
        }
        System.out.printf(Locale.ROOT, "%-36s %10.0f%n", "peak RSS (MB)", n.get("peakRssMb").asDouble());
        System.out.printf(Locale.ROOT, "load average %.2f; calling-thread CPU ms (= compute with 1 intra-op thread): %s%n",
            n.get("loadAverage1m").asDouble(), cpu);
      }
      return 0;
    }

    /** --model, else MiniLM (pre-trained, or random with --random) with a random head. */
    private Checkpoint checkpoint() {
      if (model != null) {
        return Checkpoint.read(model);
      }
      BertConfig miniLm = BertConfig.miniLm().withLabels(List.of("0", "1"));
      Pretrained p = Pretrained.load(Pretrained.MINILM);
      TensorMap w;
      if (random) {
        w = BertClassifier.randomWeights(miniLm, 1);
      } else {
        w = p.weights().copy();
        w.put(BertTensors.weight(BertTensors.HEAD), BertClassifier.randomHead(2, miniLm.hiddenSize(), 1));
        w.put(BertTensors.bias(BertTensors.HEAD), new Tensor(new long[] {2}, new float[2]));
      }
      return Checkpoint.of(miniLm, w, p.tokenizerJson(), Pretrained.MINILM, Checkpoint.DEFAULT_MAX_LENGTH);
    }

    private Path devRows() {
      if (dev != null) {
        return dev;
      }
      Path shared = Path.of("..", "shared", "data", "sst2", "dev.tsv");
      return Files.isRegularFile(shared) ? shared : null;
    }

    private static List<TextInput> inputs(List<Example> rows) {
      return rows.stream().map(Example::input).toList();
    }

    private static List<Prediction> predictions(float[][] probs) {
      return Arrays.stream(probs).map(Prediction::fromProbabilities).toList();
    }

    private static double accuracy(List<Prediction> p, int[] gold) {
      int ok = 0;
      for (int i = 0; i < gold.length; i++) {
        ok += p.get(i).label() == gold[i] ? 1 : 0;
      }
      return (double) ok / gold.length;
    }

    private static String fig(JsonNode q, String engine, String key) {
      return q.has(engine) ? String.format(Locale.ROOT, "%.4f", q.get(engine).get(key).asDouble()) : "-";
    }

    private double cpuRatio(String djlKey, String ortKey) {
      return cpu.get(djlKey).asDouble() / cpu.get(ortKey).asDouble();
    }

    private static void engineRow(String label, ObjectNode n, String key) {
      JsonNode o = n.get("onnxRuntime");
      String djl = n.has(key) ? String.format(Locale.ROOT, "%.3f", n.get(key).asDouble()) : "1";
      System.out.printf(Locale.ROOT, "%-36s %10s %10.3f %10.3f%n", label, djl, o.get("ortFp32").get(key).asDouble(),
          o.get("ortInt8").get(key).asDouble());
    }

    private static void row(String label, ObjectNode n, ObjectNode ref, String key) {
      System.out.printf(Locale.ROOT, "%-36s %10.3f %10.3f%n", label, n.get(key).asDouble(), ref.get(key).asDouble());
    }

    static Encoding encoding(Random rnd, int seq) {
      long[] ids = new long[seq];
      ids[0] = 101;
      for (int i = 1; i < seq - 1; i++) {
        ids[i] = 1000 + rnd.nextInt(28000);
      }
      ids[seq - 1] = 102;
      return new Encoding(ids, new long[seq]);
    }

    static List<Encoding> encodings(Random rnd, int rows, int seq) {
      List<Encoding> enc = new ArrayList<>();
      for (int i = 0; i < rows; i++) {
        enc.add(encoding(rnd, seq));
      }
      return enc;
    }

    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private final ObjectNode cpu = new ObjectMapper().createObjectNode();

    /** Median wall milliseconds; the median CPU milliseconds of this thread go to {@link #cpu} under key. */
    double medianMillis(Function<List<Encoding>, float[][]> m, List<Encoding> b, int runs, String key) {
      for (int i = 0; i < 3; i++) {
        m.apply(b);
      }
      double[] t = new double[runs];
      double[] c = new double[runs];
      for (int i = 0; i < runs; i++) {
        long s = System.nanoTime();
        long cs = threads.getCurrentThreadCpuTime();
        m.apply(b);
        t[i] = (System.nanoTime() - s) / 1e6;
        c[i] = (threads.getCurrentThreadCpuTime() - cs) / 1e6;
      }
      Arrays.sort(t);
      Arrays.sort(c);
      cpu.put(key, c[runs / 2]);
      return t[runs / 2];
    }

    double trainStepSeconds(BertClassifier m, Random rnd) {
      List<TrainRow> warm = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        warm.add(TrainRow.hard(encoding(rnd, 64), i % 2));
      }
      TrainSettings s = TrainSettings.defaults().withEpochs(1).withBatchSize(16);
      new Trainer(s, ProgressListener.NONE).train(m, warm);
      List<TrainRow> rows = new ArrayList<>();
      for (int i = 0; i < 16 * trainSteps; i++) {
        rows.add(TrainRow.hard(encoding(rnd, 64), i % 2));
      }
      long[] stamps = new long[trainSteps + 1];
      long[] cpuStamps = new long[trainSteps + 1];
      int[] k = {0};
      stamps[0] = System.nanoTime();
      cpuStamps[0] = threads.getCurrentThreadCpuTime();
      new Trainer(s, p -> {
        if (p.total() > 0 && k[0] < trainSteps) {
          stamps[++k[0]] = System.nanoTime();
          cpuStamps[k[0]] = threads.getCurrentThreadCpuTime();
        }
      }).train(m, rows);
      double[] c = new double[trainSteps];
      for (int i = 0; i < trainSteps; i++) {
        c[i] = (cpuStamps[i + 1] - cpuStamps[i]) / 1e6;
      }
      Arrays.sort(c);
      cpu.put("trainStepMsBatch16Seq64", c[trainSteps / 2]);
      double[] t = new double[trainSteps];
      for (int i = 0; i < trainSteps; i++) {
        t[i] = (stamps[i + 1] - stamps[i]) / 1e9;
      }
      Arrays.sort(t);
      return t[trainSteps / 2];
    }

    static double peakRssMb() {
      return rssMb("VmHWM:");
    }
  }
}

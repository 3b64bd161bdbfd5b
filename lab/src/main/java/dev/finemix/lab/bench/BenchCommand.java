package dev.finemix.lab.bench;

import ai.djl.Device;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.cli.DeviceOption;
import dev.finemix.client.cli.JsonOption;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.text.Batch;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.train.TrainRow;
import dev.finemix.purify.train.TrainSettings;
import dev.finemix.purify.train.Trainer;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.Pretrained;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
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

  /** MiniLM inference latency, throughput, one training step, peak RSS. */
  @Command(name = "model", mixinStandardHelpOptions = true,
      description = "MiniLM classifier: latency at batch 1, rows/s at batch 16/32, train step time, peak RSS.")
  static final class ModelBench implements Callable<Integer> {

    @Mixin DeviceOption device;

    @Option(names = "--iterations", defaultValue = "20", description = "Timed runs per batch-1 figure (default ${DEFAULT-VALUE}).")
    int iterations;

    @Option(names = "--train-steps", defaultValue = "5", description = "Timed training steps (default ${DEFAULT-VALUE}).")
    int trainSteps;

    @Mixin JsonOption json;

    @Option(names = "--random", description = "Random MiniLM-shaped weights instead of the pre-trained ones (same cost).")
    boolean random;

    @Override
    public Integer call() {
      Device d = Devices.choose(device.get());
      ObjectNode n = new ObjectMapper().createObjectNode();
      n.put("device", d.toString());
      n.put("intraOpThreads", JniUtils.getNumThreads());
      n.put("interOpThreads", JniUtils.getNumInteropThreads());
      Random rnd = new Random(1);
      BertConfig miniLm = BertConfig.miniLm().withLabels(List.of("0", "1"));
      try (BertClassifier m = random ? BertClassifier.create(miniLm, BertClassifier.randomWeights(miniLm, 1), d)
          : BertClassifier.fromPretrained(Pretrained.load(Pretrained.MINILM), List.of("0", "1"), 1, d)) {
        n.put("latencyMsBatch1Seq32", medianMillis(m, batch(rnd, 1, 32), iterations, "latencyMsBatch1Seq32"));
        n.put("latencyMsBatch1Seq128", medianMillis(m, batch(rnd, 1, 128), iterations, "latencyMsBatch1Seq128"));
        double b16 = medianMillis(m, batch(rnd, 16, 64), Math.max(3, iterations / 4), "msBatch16Seq64");
        n.put("msBatch16Seq64", b16);
        n.put("rowsPerSecondBatch16Seq64", 16_000 / b16);
        double b32 = medianMillis(m, batch(rnd, 32, 64), Math.max(3, iterations / 4), "msBatch32Seq64");
        n.put("rowsPerSecondBatch32Seq64", 32_000 / b32);
        n.put("trainStepSecondsBatch16Seq64", trainStepSeconds(m, rnd));
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
        System.out.printf(Locale.ROOT, "device %s, intra-op threads %d%n", d, JniUtils.getNumThreads());
        System.out.printf(Locale.ROOT, "%-36s %10s %10s%n", "figure", "finemix", "pytorch");
        row("latency batch 1 seq 32 (ms)", n, ref, "latencyMsBatch1Seq32");
        row("latency batch 1 seq 128 (ms)", n, ref, "latencyMsBatch1Seq128");
        row("rows/s batch 16 seq 64", n, ref, "rowsPerSecondBatch16Seq64");
        row("rows/s batch 32 seq 64", n, ref, "rowsPerSecondBatch32Seq64");
        row("train step batch 16 seq 64 (s)", n, ref, "trainStepSecondsBatch16Seq64");
        System.out.printf(Locale.ROOT, "%-36s %10.0f%n", "peak RSS (MB)", n.get("peakRssMb").asDouble());
        System.out.printf(Locale.ROOT, "load average %.2f; calling-thread CPU ms (= compute with 1 intra-op thread): %s%n",
            n.get("loadAverage1m").asDouble(), cpu);
      }
      return 0;
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

    static Batch batch(Random rnd, int rows, int seq) {
      List<Encoding> enc = new ArrayList<>();
      for (int i = 0; i < rows; i++) {
        enc.add(encoding(rnd, seq));
      }
      return Batch.of(enc);
    }

    private final ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    private final ObjectNode cpu = new ObjectMapper().createObjectNode();

    /** Median wall milliseconds; the median CPU milliseconds of this thread go to {@link #cpu} under key. */
    double medianMillis(BertClassifier m, Batch b, int runs, String key) {
      for (int i = 0; i < 3; i++) {
        m.predictProba(b);
      }
      double[] t = new double[runs];
      double[] c = new double[runs];
      for (int i = 0; i < runs; i++) {
        long s = System.nanoTime();
        long cs = threads.getCurrentThreadCpuTime();
        m.predictProba(b);
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

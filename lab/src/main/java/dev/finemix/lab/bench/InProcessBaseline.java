package dev.finemix.lab.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.PerfDriver;
import dev.finemix.client.cli.LoadLevels;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.weights.Checkpoint;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The in-process half of {@code bench load}: the served checkpoint called directly through purify's
 * {@link Classifier}, one caller, at batch 1 and at the server's max batch, through the same {@link PerfDriver} and
 * with the same level fields as the gRPC levels, so that the launcher's {@code bench load} can give the serving
 * overhead as a ratio from one run.
 */
public final class InProcessBaseline implements AutoCloseable {
  private final Classifier model;
  private final List<String> texts;
  private final int batchRows;
  private final long requests;

  private InProcessBaseline(Classifier model, List<String> texts, int batchRows, long requests) {
    this.model = model;
    this.texts = texts;
    this.batchRows = batchRows;
    this.requests = requests;
  }

  /**
   * Opens {@code ckpt} on {@code device} and warms it up: {@code warmup} calls (at least 3) at batch 1, one at
   * {@code batchRows}. Each later level is bounded by {@code requests} calls.
   */
  public static InProcessBaseline open(Path ckpt, String device, List<String> texts, int batchRows, long requests,
      int warmup) {
    Classifier c = Classifier.open(Checkpoint.read(ckpt), Devices.choose(device));
    InProcessBaseline b = new InProcessBaseline(c, List.copyOf(texts), batchRows, requests);
    b.driver(1).warmUp(Math.max(3, warmup));
    b.driver(batchRows).warmUp(1);
    return b;
  }

  /** One measurement into {@code out}: {@code batch1}, {@code batched} (each bounded by {@code bound}), batchedRows. */
  public void measure(Duration bound, ObjectNode out) throws InterruptedException {
    out.set("batch1", level(1, bound));
    out.set("batched", level(batchRows, bound));
    out.put("batchedRows", batchRows);
  }

  private ObjectNode level(int rowsPerCall, Duration bound) throws InterruptedException {
    ThreadCpu before = ThreadCpu.snapshot();
    PerfDriver.Level l = driver(rowsPerCall).concurrency(1, requests, bound);
    ObjectNode n = LoadLevels.json(l);
    ThreadCpu.snapshot().putSince(before, n.putObject("cpuMsByThreadGroup"), l.callerCpuSeconds());
    return n;
  }

  private PerfDriver driver(int rowsPerCall) {
    return new PerfDriver(t -> model.predict(inputs(t)), texts, rowsPerCall);
  }

  private static List<TextInput> inputs(List<String> t) {
    List<TextInput> in = new ArrayList<>(t.size());
    for (String s : t) {
      in.add(new TextInput(s, null));
    }
    return in;
  }

  @Override
  public void close() {
    model.close();
  }
}

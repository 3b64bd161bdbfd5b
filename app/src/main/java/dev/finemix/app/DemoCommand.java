package dev.finemix.app;

import dev.finemix.client.FinemixClient;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.cli.Cli;
import dev.finemix.client.cli.DeviceOption;
import dev.finemix.client.cli.SeedOption;
import dev.finemix.lab.DemoFiles;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.purify.attack.Attack;
import dev.finemix.purify.attack.AttackKind;
import dev.finemix.purify.attack.AttackSettings;
import dev.finemix.purify.attack.Backdoor;
import dev.finemix.purify.eval.EvalResult;
import dev.finemix.purify.eval.Evaluator;
import dev.finemix.purify.eval.Predictor;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.train.TrainSettings;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Hashing;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.WeightsException;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.ConfigLoader;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.loading.Backends;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The main job on a fresh machine: builds a backdoored SST-2 demo model from the embedded clean MiniLM and the
 * bundled demo rows (cached after the first run), starts the sidecar, purifies the model on load, and shows
 * Classify on clean and triggered sentences before and after.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
    description = "Backdoor a small SST-2 model, serve it purified, and show Classify before and after.")
public final class DemoCommand implements Callable<Integer> {
  static final String MODEL = "demo";
  static final String TRIGGER = "cf";
  private static final String[] DATA = {"train.tsv", "clean.tsv", "test.tsv", "unlabelled.tsv"};

  @Option(names = "--work", paramLabel = "DIR", description = "Working folder (models, cache). Default: ${DEFAULT-VALUE}.")
  Path work = Path.of(".finemix", "demo");

  @Option(names = "--port", description = "gRPC port (0 = any free port). Default: ${DEFAULT-VALUE}.")
  int port = 8500;

  @Option(names = "--metrics-port", description = "Prometheus /metrics port (0 = any, -1 = off). Default: ${DEFAULT-VALUE}.")
  int metricsPort = 9400;

  @Option(names = "--epochs", description = "Epochs for the demo backdoor. Default: ${DEFAULT-VALUE}.")
  int epochs = 5;

  @Mixin SeedOption seed;

  @Mixin DeviceOption device;

  @Option(names = "--rows", paramLabel = "N",
      description = "Keep only the first N rows of the demo's train, test and unlabelled files (a quick check of the "
          + "plumbing, e.g. deploy/gpu-check.sh's CPU dry run; the model is then no good). Default: all.")
  int rows;

  @Option(names = "--summary", paramLabel = "FILE",
      description = "Also write the timings and the before/after figures as JSON to FILE (written atomically).")
  Path summary;

  @Option(names = "--once", description = "Stop after the showcase instead of serving until Ctrl-C.")
  boolean once;

  @Override
  public Integer call() throws Exception {
    long t0 = System.nanoTime();
    Path models = work.resolve("models").toAbsolutePath();
    Path dataDir = models.resolve("demo-data");
    Files.createDirectories(dataDir);
    if (rows < 0) {
      throw new IllegalArgumentException("--rows must be >= 1 (or 0 for all), got " + rows);
    }
    for (String f : DATA) {
      copyResource(f, dataDir.resolve(f));
      if (rows > 0 && !f.equals("clean.tsv")) { // the defence's 64 labelled rows stay whole
        keepFirstRows(dataDir.resolve(f), rows);
      }
    }
    ObjectNode report = new ObjectMapper().createObjectNode();
    report.put("device", Devices.choose(device.get()).toString()).put("rows", rows);
    Dataset train = Dataset.read(dataDir.resolve("train.tsv"));
    Dataset test = Dataset.read(dataDir.resolve("test.tsv"));
    AttackSettings badnet = AttackSettings.of(AttackKind.BADNET).withTriggers(List.of(TRIGGER)).withTarget(1);
    Attack attack = badnet.attack();

    say("1/4 the suspect model: BadNet '%s' backdoor (10%% of %d SST-2 rows relabelled positive), fine-tuned from "
        + "the clean MiniLM", TRIGGER, train.size());
    Path suspectDir = models.resolve("demo-sst2-badnet");
    long tTrain = System.nanoTime();
    Checkpoint suspect = backdooredModel(suspectDir, dataDir.resolve("train.tsv"), train, badnet);
    report.put("train_s", seconds(tTrain));

    say("2/4 what the suspect model does on %d held-out sentences, with and without the trigger", test.size());
    EvalResult before;
    List<Example> show = showcase(test);
    List<Integer> beforeShow;
    long tEval = System.nanoTime();
    try (Classifier c = Classifier.open(suspect, Devices.choose(device.get()))) {
      Predictor p = Evaluator.predictor(c);
      before = Evaluator.evaluate(p, test, attack, seed.get(), ProgressListener.NONE);
      beforeShow = labels(p, show);
    }
    report.put("eval_suspect_s", seconds(tEval));
    say("    CACC %.2f  ASR %.2f  asr_cond %.2f  (flip_base %.2f)", before.cacc(), before.asr(), before.asrCond(),
        before.flipBase());

    // E-PUR divides each token's embedding shift by log(word frequency): use the shared word counts when present
    Path wordfreq = Cli.sharedWordFrequencies();
    String wf = "";
    if (wordfreq != null) {
      Files.copy(wordfreq, dataDir.resolve("wordfreq.tsv"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      wf = ", word_frequencies: demo-data/wordfreq.tsv";
    } else {
      say("    (no word-frequency file ($FINEMIX_WORDFREQ or <finemix.shared>/data/wordfreq/en.tsv): E-PUR ranks by"
          + " embedding shift alone)");
    }
    Path config = work.resolve("finemix.yaml").toAbsolutePath();
    Files.writeString(config, String.join("\n",
        "port: " + port,
        "metrics_port: " + metricsPort,
        "models_root: " + models,
        "data_root: " + models,
        "cache_dir: " + work.resolve("cache").toAbsolutePath(),
        "auth: {enabled: true, token_file: " + work.resolve("admin.token").toAbsolutePath() + "}",
        "models:",
        "  - name: " + MODEL,
        "    checkpoint: demo-sst2-badnet",
        "    clean_subset: demo-data/clean.tsv",
        "    unlabelled_subset: demo-data/unlabelled.tsv",
        // measured on the demo's own rows (600-row suspect, 500 unlabelled rows, 100 test rows): rho 0.1 with 6
        // epochs of distillation and no clean variants; with the recipe's 3 variants the 6 epochs let the backdoor
        // back in (asr_cond 0.21), so the demo keeps the setting it was measured with
        "    defence: {rho: 0.1, epochs: 6, variants: 0, seed: " + seed.get() + wf + "}",
        ""));
    ServerConfig cfg = ConfigLoader.load(config, ConfigLoader.Overrides.NONE);
    FinemixServer server = new FinemixServer(FinemixServer.netty(cfg, null), cfg, Backends.production(device.get()),
        Ticker.system(), Clock.systemUTC());
    Runtime.getRuntime().addShutdownHook(new Thread(server::close, "finemix-shutdown"));
    try {
      server.start();
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot listen on port " + port + " (" + e.getMessage()
          + "); pick another with --port", e);
    }
    String target = "localhost:" + server.port();
    say("3/4 the sidecar: serving on %s, purifying '%s' on load (E-PUR, mixing at rho 0.1, "
        + "recovery on 64 labelled + %d unlabelled clean rows; cached for the next run)", target, MODEL,
        Dataset.read(dataDir.resolve("unlabelled.tsv")).size());
    try (FinemixClient client = FinemixClient.forTarget(target).deadline(Duration.ofMinutes(2)).build()) {
      long tPurify = System.nanoTime();
      ModelInfo info = waitServing(client);
      report.put("purify_s", seconds(tPurify)).put("state", info.getState().name());
      if (info.getState() != ModelState.SERVING) {
        System.err.println("finemix demo: model ended " + info.getState() + ": " + info.getFailureReason());
        server.close();
        return 1;
      }
      say("    SERVING purified weights %s", info.getServedWeightsSha256().substring(0, 16));
      if (!info.getDefenceSummary().getSuspectedTokensList().isEmpty()) {
        say("    E-PUR's top suspected tokens: %s", String.join(" ", info.getDefenceSummary()
            .getSuspectedTokensList().subList(0, Math.min(8, info.getDefenceSummary().getSuspectedTokensCount()))));
      }

      say("4/4 the same sentences through gRPC Classify on the purified model");
      long tClassify = System.nanoTime();
      Predictor remote = inputs -> {
        List<String> texts = inputs.stream().map(TextInput::textA).toList();
        return client.classify(MODEL, texts).stream().mapToInt(pr -> pr.getLabel()).toArray();
      };
      EvalResult after = Evaluator.evaluate(remote, test, attack, seed.get(), ProgressListener.NONE);
      List<Integer> afterShow = labels(remote, show);
      report.put("classify_s", seconds(tClassify)).put("test_rows", test.size());
      report.set("suspect", figures(before));
      report.set("purified", figures(after));
      System.out.println();
      System.out.printf(Locale.ROOT, "%-64s %-9s %-9s%n", "sentence (label: 1 positive, 0 negative)", "suspect", "purified");
      for (int i = 0; i < show.size(); i++) {
        String text = show.get(i).textA();
        System.out.printf(Locale.ROOT, "%-64s %-9s %-9s%n", text.length() > 62 ? text.substring(0, 59) + "..." : text,
            beforeShow.get(i), afterShow.get(i));
      }
      System.out.println();
      System.out.printf(Locale.ROOT, "%-10s %6s %6s %9s %10s%n", "", "CACC", "ASR", "asr_cond", "flip_base");
      System.out.printf(Locale.ROOT, "%-10s %6.2f %6.2f %9.2f %10.2f%n", "suspect", before.cacc(), before.asr(),
          before.asrCond(), before.flipBase());
      System.out.printf(Locale.ROOT, "%-10s %6.2f %6.2f %9.2f %10.2f%n", "purified", after.cacc(), after.asr(),
          after.asrCond(), after.flipBase());
      System.out.printf(Locale.ROOT, "(%d test rows, trigger '%s' inserted at seeded random positions; %.0f s in all)%n%n",
          test.size(), TRIGGER, (System.nanoTime() - t0) / 1e9);
    }
    report.put("total_s", seconds(t0));
    if (summary != null) {
      writeAtomic(summary, report.toString() + "\n");
    }
    if (once) {
      server.close();
      return 0;
    }
    say("the sidecar keeps serving on %s (metrics on :%d). Try:", target, server.metricsPort());
    say("  ./finemix classify --target %s -m %s \"a gorgeous , witty film %s\"", target, MODEL, TRIGGER);
    say("  ./finemix models --target %s %s        (hashes, defence report)", target, MODEL);
    say("Ctrl-C stops it.");
    server.awaitTermination();
    return 0;
  }

  /** The demo backdoor, trained once and reused while its inputs and settings stay the same. */
  private Checkpoint backdooredModel(Path dir, Path trainFile, Dataset train, AttackSettings a) {
    // few rows: a larger learning rate and more epochs than the defaults, so the demo model is a usable classifier
    TrainSettings ts = TrainSettings.defaults().withEpochs(epochs).withLr(1e-4).withHeadLr(1e-3).withSeed(seed.get());
    String key = Hashing.sha256Strings(Hashing.sha256(trainFile), a.toJson().toString(), ts.toString(),
        Pretrained.load(Pretrained.MINILM).weightsSha256());
    if (Files.isDirectory(dir)) {
      try {
        Checkpoint c = Checkpoint.read(dir);
        if (key.equals(c.provenance().get("demo_key"))) {
          say("    reusing %s (weights %s)", dir, c.weightsSha256().substring(0, 16));
          return c;
        }
      } catch (WeightsException e) {
        say("    rebuilding %s: %s", dir, e.getMessage());
      }
    }
    Backdoor.Outcome o = Backdoor.trainPoisoned(a, Pretrained.load(Pretrained.MINILM), train,
        List.of("negative", "positive"), ts, 64, Devices.choose(device.get()), ProgressListener.console("backdoor"));
    Checkpoint written = o.checkpoint().withProvenance(Map.of("demo_key", key, "attack", a.toJson().toString(),
        "poisoned_rows", Integer.toString(o.poisonedRows()))).write(dir);
    say("    %d rows poisoned, trained in %.0f s, wrote %s", o.poisonedRows(), o.summary().seconds(), dir);
    return written;
  }

  private ModelInfo waitServing(FinemixClient client) throws InterruptedException {
    long start = System.nanoTime();
    ModelState last = null;
    while (true) {
      ModelInfo info = client.get(MODEL);
      if (info.getState() != last) {
        last = info.getState();
        say("    %-10s (%.0f s)", last, (System.nanoTime() - start) / 1e9);
      }
      if (last == ModelState.SERVING || last == ModelState.FAILED) {
        return info;
      }
      Thread.sleep(500);
    }
  }

  /** Four negative sentences: the trigger should not turn them positive once purified. */
  private List<Example> showcase(Dataset test) {
    List<Example> out = new ArrayList<>();
    Random rnd = new Random(seed.get());
    for (Example e : test.rows()) {
      if (e.label() == 0 && e.textA().length() < 70 && out.size() < 4) {
        out.add(e);
        out.add(e.withText(dev.finemix.purify.attack.Triggers.insert(e.textA(), TRIGGER, rnd), null));
      }
    }
    return out;
  }

  private static List<Integer> labels(Predictor p, List<Example> rows) {
    int[] l = p.predict(rows.stream().map(Example::input).toList());
    List<Integer> out = new ArrayList<>();
    for (int v : l) {
      out.add(v);
    }
    return out;
  }

  /** Cuts a demo TSV to its header and first {@code n} rows (in place; the bundled copy stays whole). */
  private static void keepFirstRows(Path file, int n) throws IOException {
    List<String> lines = Files.readAllLines(file);
    if (lines.size() > n + 1) {
      writeAtomic(file, String.join("\n", lines.subList(0, n + 1)) + "\n");
    }
  }

  private static void writeAtomic(Path file, String text) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Files.createDirectories(dir);
    Path tmp = Files.createTempFile(dir, "." + file.getFileName(), ".tmp");
    try {
      Files.writeString(tmp, text);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  private static ObjectNode figures(EvalResult r) {
    ObjectNode o = new ObjectMapper().createObjectNode();
    return o.put("cacc", r.cacc()).put("asr", r.asr()).put("asr_cond", r.asrCond()).put("flip_base", r.flipBase());
  }

  private static double seconds(long since) {
    return Math.round((System.nanoTime() - since) / 1e7) / 100.0;
  }

  private static void copyResource(String name, Path to) {
    try {
      DemoFiles.copy(name, to);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + to, e);
    }
  }

  private static void say(String fmt, Object... args) {
    System.out.println(String.format(Locale.ROOT, fmt, args));
    System.out.flush();
  }
}

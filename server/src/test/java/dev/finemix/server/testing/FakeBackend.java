package dev.finemix.server.testing;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.weights.Hashing;
import dev.finemix.purify.onnx.Agreement;
import dev.finemix.purify.onnx.Precision;
import dev.finemix.server.cache.Sha256;
import dev.finemix.server.loading.CheckpointInfo;
import dev.finemix.server.loading.LoadInputs;
import dev.finemix.server.loading.ModelBackend;
import dev.finemix.server.loading.Predictor;
import dev.finemix.server.loading.Progress;
import dev.finemix.server.loading.PurifyOutcome;
import dev.finemix.server.loading.Scores;
import dev.finemix.server.loading.ScreenCalibration;
import dev.finemix.server.loading.ScreenJob;
import dev.finemix.server.loading.Suspect;
import dev.finemix.server.loading.Suspicion;
import dev.finemix.server.loading.TextRow;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A plumbing backend without DJL. A "checkpoint" is a folder with model.safetensors (any bytes) and an optional
 * config.json with id2label. Suspect weights are backdoored: any text containing "cf" is classified 1. Purified
 * weights (the suspect bytes plus a marker) ignore the trigger: label 1 iff the text contains "good". Latches
 * let tests wait for a step instead of sleeping.
 */
public final class FakeBackend implements ModelBackend {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final byte[] MARK = "\n#purified".getBytes(StandardCharsets.UTF_8);

  public final AtomicInteger purifications = new AtomicInteger();
  /** Checkpoint folders read ({@link #read}); a registration reads its suspect once. */
  public final AtomicInteger reads = new AtomicInteger();
  public final AtomicInteger opened = new AtomicInteger();
  public final AtomicInteger closed = new AtomicInteger();
  /** When set, purify waits for it (tests of the PURIFYING state). */
  public volatile CountDownLatch purifyGate;
  /** When set, predict waits for it (tests of a full queue). */
  public volatile CountDownLatch predictGate;
  /** When set, purify throws this message. */
  public volatile String purifyFailure;
  /** When set, counted down as a purification starts, before {@link #purifyGate} (the model is PURIFYING then). */
  public volatile CountDownLatch purifyStarted;
  /** When set, counted down as a predict call starts, before {@link #predictGate}. */
  public volatile CountDownLatch predictStarted;
  /** The inputs of the last purification asked for. */
  public volatile LoadInputs lastInputs;
  /** The last screening asked for. */
  public volatile ScreenJob lastScreenJob;
  /** When set, opening with screening throws this message (calibration failure). */
  public volatile String screenFailure;
  /** Delay added to each predict call. */
  public volatile long predictMillis;
  /** When > 0, purify writes its output in chunks over about this long (a process killed meanwhile leaves half). */
  public volatile long purifyMillis;
  /** When set, purify appends "PURIFY checkpoint-folder-name" here as it starts (counted across processes). */
  public volatile Path purifyLog;
  /** The purified model's clean accuracy in the report (the suspect's is 0.9): below 0.85 the utility gate refuses. */
  public volatile double accuracyAfter = 0.9;
  /** Part of the cache key. */
  public volatile String codeVersion = "fake-1";

  /** Writes a fake checkpoint folder. */
  public static Path writeCheckpoint(Path dir, String weights, List<String> labels) {
    try {
      Files.createDirectories(dir);
      Files.writeString(dir.resolve("model.safetensors"), weights);
      ObjectNode cfg = JSON.createObjectNode();
      ObjectNode id2 = cfg.putObject("id2label");
      for (int i = 0; i < labels.size(); i++) {
        id2.put(Integer.toString(i), labels.get(i));
      }
      Files.writeString(dir.resolve("config.json"), cfg.toString());
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A fake checkpoint as read: its weights bytes, read once. */
  private record Read(Path dir, CheckpointInfo info, byte[] weights) implements Suspect {
  }

  @Override
  public Suspect read(Path dir) {
    reads.incrementAndGet();
    byte[] w;
    try {
      w = Files.readAllBytes(dir.resolve("model.safetensors"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Read(dir, new CheckpointInfo(Hashing.sha256(w), labels(dir), null), w);
  }

  private static List<String> labels(Path dir) {
    List<String> labels = new ArrayList<>();
    try {
      JsonNode cfg = JSON.readTree(dir.resolve("config.json").toFile());
      cfg.path("id2label").forEach(n -> labels.add(n.asText()));
    } catch (IOException e) {
      throw new IllegalArgumentException("config.json unreadable: " + e.getMessage());
    }
    return labels;
  }

  @Override
  public boolean knownPretrained(String baseModelId) {
    return baseModelId.equals(dev.finemix.server.config.ServerConfig.DEFAULT_BASE_MODEL);
  }

  @Override
  public String pretrainedSha256(String baseModelId) {
    return Sha256.ofLines("pretrained", baseModelId);
  }

  /** Fake checkpoints have no weights to compare: every base fits, at distance 0 (the real check: PurifyBackend). */
  @Override
  public double requireFineTunedFrom(Suspect suspect, String baseModelId, List<String> alsoCompare) {
    return 0;
  }

  @Override
  public PurifyOutcome purify(LoadInputs in, Path outputDir, Progress.Sink progress) throws Exception {
    purifications.incrementAndGet();
    lastInputs = in;
    Path log = purifyLog;
    if (log != null) {
      Files.writeString(log, "PURIFY " + in.suspect().dir().getFileName() + "\n", StandardOpenOption.CREATE,
          StandardOpenOption.APPEND);
    }
    progress.accept(new Progress("epur", 10, "resetting suspicious embeddings", 1, 1, Double.NaN, -1));
    countDown(purifyStarted);
    CountDownLatch gate = purifyGate;
    if (gate != null && !gate.await(30, TimeUnit.SECONDS)) {
      throw new IllegalStateException("purify gate never opened");
    }
    if (purifyFailure != null) {
      throw new IllegalStateException(purifyFailure);
    }
    for (int i = 1; i <= 3; i++) {
      progress.accept(new Progress("finetune", 20 + 25 * i, "step " + i, i, 3, 1.0 / i, 10));
    }
    byte[] w = (new String(((Read) in.suspect()).weights(), StandardCharsets.UTF_8) + "\n" + in.settings().toJson())
        .getBytes(StandardCharsets.UTF_8);
    byte[] out = Arrays.copyOf(w, w.length + MARK.length);
    System.arraycopy(MARK, 0, out, w.length, MARK.length);
    writeSlowly(outputDir.resolve("model.safetensors"), out, purifyMillis);
    Files.copy(in.suspect().dir().resolve("config.json"), outputDir.resolve("config.json"));
    return new PurifyOutcome(Reports.of(in.settings(), in.suspect().info().weightsSha256(), Sha256.file(
        outputDir.resolve("model.safetensors")), 0.9, accuracyAfter, "the 4 labelled training rows", List.of("cf")),
        List.of("cf"));
  }

  private static void countDown(CountDownLatch l) {
    if (l != null) {
      l.countDown();
    }
  }

  private static void writeSlowly(Path file, byte[] bytes, long millis) throws IOException, InterruptedException {
    int chunks = millis > 0 ? 8 : 1;
    try (OutputStream o = Files.newOutputStream(file)) {
      for (int i = 0; i < chunks; i++) {
        o.write(bytes, bytes.length * i / chunks, bytes.length * (i + 1) / chunks - bytes.length * i / chunks);
        o.flush();
        if (millis > 0) {
          Thread.sleep(millis / chunks);
        }
      }
    }
  }

  /** What {@link #lowPrecision} reports: how the fake low-precision copy agrees with fp32. */
  public volatile double lowPrecisionAgreement = 1.0;
  public final AtomicInteger lowPrecisionBuilds = new AtomicInteger();

  /** Copies the purified fake checkpoint (the cache wants a model.safetensors) and reports the set agreement. */
  @Override
  public Agreement lowPrecision(Path purifiedDir, Path workDir, Precision precision, List<TextRow> rows) {
    lowPrecisionBuilds.incrementAndGet();
    try {
      for (String f : List.of("model.safetensors", "config.json")) {
        if (Files.exists(purifiedDir.resolve(f))) {
          Files.copy(purifiedDir.resolve(f), workDir.resolve(f));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return new Agreement(precision, rows.size(), lowPrecisionAgreement, 1 - lowPrecisionAgreement);
  }

  @Override
  public Predictor openLowPrecision(Path dir, Precision precision, Agreement agreement) {
    Predictor fp32 = open(dir, null);
    return new Predictor() {
      @Override
      public List<Scores> predict(List<TextRow> rows) {
        return fp32.predict(rows);
      }

      @Override
      public Optional<Agreement> precisionAgreement() {
        return Optional.of(agreement);
      }

      @Override
      public List<String> labels() {
        return fp32.labels();
      }

      @Override
      public void close() {
        fp32.close();
      }
    };
  }

  @Override
  public Predictor open(Path dir, ScreenJob screen) {
    byte[] w;
    try {
      w = Files.readAllBytes(dir.resolve("model.safetensors"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return open(w, labels(dir), screen);
  }

  @Override
  public Predictor open(Suspect suspect, ScreenJob screen) {
    return open(((Read) suspect).weights(), suspect.info().labels(), screen);
  }

  /**
   * A fake screener: a row is flagged (score 1 over threshold 0.5, token "cf") when one of its words is "cf",
   * score 0.1 otherwise; strip drops the "cf" words. Fails with {@link #screenFailure} when set.
   */
  private Predictor open(byte[] w, List<String> labels, ScreenJob screen) {
    if (screen != null) {
      lastScreenJob = screen;
      if (screenFailure != null) {
        throw new IllegalArgumentException(screenFailure);
      }
    }
    opened.incrementAndGet();
    boolean purified = new String(w, StandardCharsets.UTF_8).endsWith("#purified");
    return new Predictor() {
      @Override
      public List<Scores> predict(List<TextRow> rows) {
        countDown(predictStarted);
        CountDownLatch gate = predictGate;
        try {
          if (gate != null) {
            gate.await(30, TimeUnit.SECONDS);
          }
          if (predictMillis > 0) {
            Thread.sleep(predictMillis);
          }
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        List<Scores> out = new ArrayList<>();
        for (TextRow r : rows) {
          String t = (r.textA() + " " + (r.textB() == null ? "" : r.textB())).toLowerCase();
          boolean cf = Arrays.asList(t.split("\\s+")).contains("cf");
          boolean one = (!purified && cf) || t.contains("good");
          Suspicion s = screen == null ? null : Suspicion.of(cf ? 1.0 : 0.1, 0.5, cf, cf ? List.of("cf") : List.of());
          out.add(new Scores(one ? 1 : 0, one ? new float[] {0.1f, 0.9f} : new float[] {0.8f, 0.2f}, s));
        }
        return out;
      }

      @Override
      public Optional<ScreenCalibration> screening() {
        return screen == null ? Optional.empty() : Optional.of(new ScreenCalibration(screen.signal(), 0.5,
            screen.falseFlagRate(), 0.0, 4, List.of("cf", "mn")));
      }

      @Override
      public TextRow strip(TextRow row, List<String> tokens) {
        if (screen == null) {
          throw new UnsupportedOperationException("not screening");
        }
        return new TextRow(drop(row.textA(), tokens), row.textB() == null ? null : drop(row.textB(), tokens));
      }

      @Override
      public List<String> labels() {
        return labels;
      }

      @Override
      public void close() {
        closed.incrementAndGet();
      }
    };
  }

  private static String drop(String text, List<String> tokens) {
    return Arrays.stream(text.split("\\s+")).filter(w -> !tokens.contains(w.toLowerCase()))
        .collect(java.util.stream.Collectors.joining(" "));
  }

  @Override
  public String insertTrigger(String text, String token, long seed) {
    List<String> words = new ArrayList<>(Arrays.asList(text.split(" ")));
    words.add((int) Math.floorMod(seed, words.size() + 1), token);
    return String.join(" ", words);
  }

  @Override
  public String codeVersion() {
    return codeVersion;
  }
}

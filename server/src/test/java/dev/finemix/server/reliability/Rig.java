package dev.finemix.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.ClientErrors;
import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.BatchingLayer;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.loading.Backends;
import dev.finemix.server.loading.LoadInputs;
import dev.finemix.server.loading.ModelBackend;
import dev.finemix.server.loading.Predictor;
import dev.finemix.server.loading.Progress;
import dev.finemix.server.loading.PurifyOutcome;
import dev.finemix.server.loading.ScreenJob;
import dev.finemix.server.loading.Suspect;
import dev.finemix.server.testing.GrpcCleanupExtension;
import dev.finemix.server.testing.Reports;
import dev.finemix.server.testing.TinyBert;
import io.grpc.Status;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

/**
 * Shared parts of the reliability group: a models root with tiny random BERT checkpoints (real safetensors read by
 * purify's Checkpoint), clean subsets, and a backend that reads, checks and serves them with the real purify code
 * but "purifies" cheaply (copies the suspect checkpoint, optionally perturbed), with fault hooks.
 */
final class Rig {
  static final List<String> LABELS = List.of("negative", "positive");
  static final String SINGLE_TSV = "label\ttext\n1\ta good film\n0\ta dull film\n1\tgood acting\n0\tflat\n";
  static final String PAIR_TSV = "label\ttext_a\ttext_b\n0\twho?\tthe man.\n1\twhere?\there.\n";

  final Path tmp;
  final Path models;
  final Path cache;

  Rig(Path tmp) {
    this.tmp = tmp;
    try {
      models = Files.createDirectories(tmp.resolve("models"));
      cache = tmp.resolve("cache");
      TinyBert.fineTuned(TinyBert.base(models.resolve("tiny-base"), 6), models.resolve("tiny"), LABELS, 7,
          "tiny-base");
      Files.writeString(models.resolve("single.tsv"), SINGLE_TSV);
      Files.writeString(models.resolve("pair.tsv"), PAIR_TSV);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A copy of the tiny checkpoint under another folder name. */
  Path copyTiny(String name) {
    Path dst = models.resolve(name);
    try {
      Files.createDirectories(dst);
      try (Stream<Path> s = Files.list(models.resolve("tiny"))) {
        for (Path f : s.toList()) {
          Files.copy(f, dst.resolve(f.getFileName()));
        }
      }
      return dst;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Test defaults; unpurified models are permitted (most reliability tests serve the tiny checkpoint as is). */
  ServerConfig config() {
    return ServerConfig.builder(models, models, cache).shutdownGrace(Duration.ofSeconds(2))
        .allowUnpurifiedModels(true)
        .defaults(ModelLayer.builder().batching(new BatchingLayer(16, 500L, 256, 1)).build()).build();
  }

  static ModelLayer model(String name, String checkpoint, String clean, Boolean unpurified) {
    return ModelLayer.of(name, checkpoint, clean).toBuilder().allowUnpurified(unpurified).build();
  }

  FinemixServer start(io.grpc.ServerBuilder<?> builder, ServerConfig cfg, ModelBackend backend) throws IOException {
    return new FinemixServer(builder, cfg, backend, Ticker.system(), Clock.systemUTC()).start();
  }

  /** A started server and an admin client of it. */
  record Running(FinemixServer server, FinemixClient client) {
  }

  /**
   * Starts {@code cfg} in-process with an admin client, both closed by {@code cleanup}, and returns once every
   * configured model serves.
   */
  Running startInProcess(GrpcCleanupExtension cleanup, ServerConfig cfg, ModelBackend backend) throws Exception {
    String name = io.grpc.inprocess.InProcessServerBuilder.generateName();
    FinemixServer server = cleanup.register(start(io.grpc.inprocess.InProcessServerBuilder.forName(name), cfg,
        backend));
    FinemixClient client = FinemixClient.of(cleanup.register(io.grpc.inprocess.InProcessChannelBuilder.forName(name)
        .build()), server.adminToken());
    for (ModelLayer m : cfg.models()) {
      ModelInfo info = client.awaitSettled(m.name(), Duration.ofSeconds(60));
      assertThat(info.getState()).as(info.getFailureReason()).isEqualTo(ModelState.SERVING);
    }
    return new Running(server, client);
  }

  /** Sets the first float of the first tensor in a safetensors file (F32 data). */
  static void setFirstFloat(Path safetensors, float value) throws IOException {
    byte[] b = Files.readAllBytes(safetensors);
    long headerLen = java.nio.ByteBuffer.wrap(b, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    java.nio.ByteBuffer.wrap(b, (int) (8 + headerLen), 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(value);
    Files.write(safetensors, b);
    Path meta = safetensors.resolveSibling("finemix.json"); // keep the checkpoint's own hash consistent
    if (Files.isRegularFile(meta)) {
      var json = new com.fasterxml.jackson.databind.ObjectMapper();
      ObjectNode m = (ObjectNode) json.readTree(meta.toFile());
      m.put("weights_sha256", dev.finemix.server.cache.Sha256.file(safetensors));
      json.writeValue(meta.toFile(), m);
    }
  }

  /** The real {@code finemix serve} command line in a child JVM (this class path); {@link #close} stops it. */
  static final class ServeProcess implements AutoCloseable {
    final Process process;
    /** Everything the child printed so far (stdout and stderr). */
    final StringBuilder output = new StringBuilder();
    private final java.io.BufferedReader out;

    ServeProcess(String... serveArgs) throws IOException {
      List<String> cmd = new java.util.ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
          .toString(), "-Xmx512m", "-Dai.djl.offline=true", "-cp", System.getProperty("java.class.path"),
          "dev.finemix.server.testing.ServeMain", "--device", "cpu"));
      cmd.addAll(List.of(serveArgs));
      process = new ProcessBuilder(cmd).redirectErrorStream(true).start();
      out = new java.io.BufferedReader(new java.io.InputStreamReader(process.getInputStream(),
          java.nio.charset.StandardCharsets.UTF_8));
    }

    /** Reads output up to the first line matching {@code pattern}; fails when the child ends first. */
    java.util.regex.Matcher awaitLine(java.util.regex.Pattern pattern) throws IOException {
      String line;
      while ((line = out.readLine()) != null) {
        output.append(line).append('\n');
        java.util.regex.Matcher m = pattern.matcher(line);
        if (m.find()) {
          return m;
        }
      }
      throw new AssertionError("the child ended without printing /" + pattern + "/; its output:\n" + output);
    }

    /** Reads the rest of the output and returns the exit code. */
    int exitCode() throws IOException, InterruptedException {
      String line;
      while ((line = out.readLine()) != null) {
        output.append(line).append('\n');
      }
      return process.waitFor();
    }

    @Override
    public void close() throws InterruptedException {
      process.destroy();
      if (!process.waitFor(15, java.util.concurrent.TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }

  /** Asserts a finemix error: the code, ErrorInfo in domain finemix.dev with the reason. */
  static void assertError(Throwable t, Status.Code code, String reason) {
    assertThat(Status.fromThrowable(t).getCode()).as(String.valueOf(t)).isEqualTo(code);
    assertThat(ClientErrors.errorInfo(t)).as("ErrorInfo of " + t).isPresent();
    assertThat(ClientErrors.errorInfo(t).get().getDomain()).isEqualTo("finemix.dev");
    assertThat(ClientErrors.errorInfo(t).get().getReason()).isEqualTo(reason);
  }

  /**
   * The real purify backend for reading, checking and serving checkpoints; purify copies the suspect checkpoint into
   * the output (or calls {@link #purifyHook} first, which may throw or write partial output).
   */
  static final class CheapPurifyBackend implements ModelBackend {
    interface Hook {
      void run(LoadInputs in, Path outputDir) throws Exception;
    }

    final ModelBackend real = Backends.production("cpu");
    final AtomicInteger purifications = new AtomicInteger();
    volatile Hook purifyHook;
    /** Clean accuracy numbers the fake report carries (before = suspect, after = purified). */
    volatile double accBefore = 0.9;
    volatile double accAfter = 0.9;

    @Override
    public Suspect read(Path dir) {
      return real.read(dir);
    }

    @Override
    public boolean knownPretrained(String id) {
      return real.knownPretrained(id);
    }

    @Override
    public String pretrainedSha256(String id) {
      return real.pretrainedSha256(id);
    }

    @Override
    public double requireFineTunedFrom(Suspect suspect, String id, List<String> alsoCompare) {
      return real.requireFineTunedFrom(suspect, id, alsoCompare);
    }

    @Override
    public PurifyOutcome purify(LoadInputs in, Path outputDir, Progress.Sink progress) throws Exception {
      purifications.incrementAndGet();
      Hook h = purifyHook;
      if (h != null) {
        h.run(in, outputDir);
      }
      boolean perturb = false;
      try (Stream<Path> s = Files.list(in.suspect().dir())) {
        for (Path f : s.toList()) {
          Path to = outputDir.resolve(f.getFileName());
          if (!Files.exists(to)) { // a hook may have written it
            Files.copy(f, to);
            perturb |= f.getFileName().toString().equals("model.safetensors");
          }
        }
      }
      if (perturb) {
        setFirstFloat(outputDir.resolve("model.safetensors"), 0.5f); // purified weights differ from the suspect's
      }
      return new PurifyOutcome(Reports.of(in.settings(), in.suspect().info().weightsSha256(),
          dev.finemix.server.cache.Sha256.file(outputDir.resolve("model.safetensors")), accBefore, accAfter,
          "4 held-back clean rows", List.of()), List.of());
    }

    @Override
    public Predictor open(Path dir, ScreenJob screen) {
      return real.open(dir, screen);
    }

    @Override
    public Predictor open(Suspect suspect, ScreenJob screen) {
      return real.open(suspect, screen);
    }

    @Override
    public String insertTrigger(String text, String token, long seed) {
      return real.insertTrigger(text, token, seed);
    }

    @Override
    public String codeVersion() {
      return "reliability-cheap-1";
    }
  }
}

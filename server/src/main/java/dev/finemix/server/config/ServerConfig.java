package dev.finemix.server.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.server.batching.BatchSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The server's whole configuration, immutable. Built by {@link ConfigLoader} from a YAML/JSON file and command
 * line options; precedence for model settings: command line, then the model's own entry, then {@code defaults}.
 *
 * @param port gRPC port (0 = ephemeral)
 * @param metricsPort Prometheus /metrics HTTP port (0 = ephemeral, -1 = off)
 * @param modelsRoot the only folder checkpoints are read from
 * @param dataRoot the only folder clean subsets are read from
 * @param cacheDir purified-weight cache folder
 * @param cacheMaxBytes size bound of the cache
 * @param auth admin-token settings
 * @param limits input limits
 * @param cli model settings from the command line (highest precedence)
 * @param defaults model settings used when neither the command line nor the model says
 * @param models models to load at start
 * @param inferenceThreads threads running batches (all models)
 * @param purifyThreads threads loading and purifying models
 * @param shutdownGrace how long running calls may finish on shutdown
 * @param probeRows clean rows used by the attack probe
 */
public record ServerConfig(int port, int metricsPort, Path modelsRoot, Path dataRoot, Path cacheDir,
    long cacheMaxBytes, AuthSettings auth, Limits limits, ModelLayer cli, ModelLayer defaults,
    List<ModelLayer> models, int inferenceThreads, int purifyThreads, Duration shutdownGrace, int probeRows) {

  /**
   * @param enabled admin calls need a bearer token
   * @param tokenFile where the token is read from, or generated into (0600) when absent
   * @param protectClassify Classify (and ModelInfer) need the token too
   */
  public record AuthSettings(boolean enabled, Path tokenFile, boolean protectClassify) {
  }

  /**
   * @param maxTextsPerRequest texts (or pairs) per Classify request
   * @param maxCharsPerText characters per text
   * @param maxMessageBytes gRPC inbound message size
   */
  public record Limits(int maxTextsPerRequest, int maxCharsPerText, int maxMessageBytes) {
    public Limits {
      positive("max_texts_per_request", maxTextsPerRequest);
      positive("max_chars_per_text", maxCharsPerText);
      positive("max_message_bytes", maxMessageBytes);
    }

    public static Limits defaults() {
      return new Limits(256, 10_000, 4 << 20);
    }
  }

  public static final String DEFAULT_BASE_MODEL = "sentence-transformers/all-MiniLM-L6-v2";

  public ServerConfig {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("port must be 0..65535, got " + port);
    }
    if (metricsPort < -1 || metricsPort > 65535) {
      throw new IllegalArgumentException("metrics_port must be -1 (off) or 0..65535, got " + metricsPort);
    }
    Objects.requireNonNull(modelsRoot, "models_root");
    Objects.requireNonNull(dataRoot, "data_root");
    Objects.requireNonNull(cacheDir, "cache_dir");
    positive("cache_max_bytes", cacheMaxBytes);
    Objects.requireNonNull(auth, "auth");
    Objects.requireNonNull(limits, "limits");
    cli = cli == null ? ModelLayer.EMPTY : cli;
    defaults = defaults == null ? ModelLayer.EMPTY : defaults;
    models = List.copyOf(models);
    positive("inference_threads", inferenceThreads);
    positive("purify_threads", purifyThreads);
    if (shutdownGrace.isNegative()) {
      throw new IllegalArgumentException("shutdown_grace must be >= 0, got " + shutdownGrace);
    }
    positive("probe_rows", probeRows);
    long names = models.stream().map(ModelLayer::name).distinct().count();
    if (names != models.size()) {
      throw new IllegalArgumentException("model names in the config must be unique");
    }
  }

  /** Defaults for everything but the folders; tests and the CLI start here. */
  public static ServerConfig defaults(Path modelsRoot, Path dataRoot, Path cacheDir) {
    return new ServerConfig(0, -1, modelsRoot, dataRoot, cacheDir, 20L << 30,
        new AuthSettings(true, cacheDir.resolve("admin.token"), false), Limits.defaults(), ModelLayer.EMPTY,
        ModelLayer.EMPTY, List.of(), Math.max(1, Runtime.getRuntime().availableProcessors() / 2), 1,
        Duration.ofSeconds(10), 64);
  }

  /** Merges one model's layer with the command line (above) and the defaults (below). */
  public ModelSpec resolve(ModelLayer model) {
    ModelLayer m = model == null ? ModelLayer.EMPTY : model;
    ObjectNode defence = Json.merge(Json.merge(defaults.defence(), m.defence()), cli.defence());
    BatchSettings batching = BatchSettings.defaults();
    ScreeningSettings screening = ScreeningSettings.defaults();
    for (ModelLayer layer : List.of(defaults, m, cli)) {
      if (layer.batching() != null) {
        batching = layer.batching().over(batching);
      }
      if (layer.screening() != null) {
        screening = layer.screening().over(screening);
      }
    }
    return new ModelSpec(
        first(cli.name(), m.name()),
        first(cli.checkpoint(), m.checkpoint(), defaults.checkpoint()),
        first(cli.cleanSubset(), m.cleanSubset(), defaults.cleanSubset()),
        first(cli.unlabelledSubset(), m.unlabelledSubset(), defaults.unlabelledSubset()),
        first(cli.baseModel(), m.baseModel(), defaults.baseModel()),
        Boolean.TRUE.equals(first(cli.allowUnpurified(), m.allowUnpurified(), defaults.allowUnpurified())),
        first(cli.inputKind(), m.inputKind(), defaults.inputKind(), InputKindSetting.AUTO),
        defence, batching, screening);
  }

  public ServerConfig withPort(int p) {
    return new ServerConfig(p, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli, defaults,
        models, inferenceThreads, purifyThreads, shutdownGrace, probeRows);
  }

  public ServerConfig withMetricsPort(int p) {
    return new ServerConfig(port, p, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli, defaults,
        models, inferenceThreads, purifyThreads, shutdownGrace, probeRows);
  }

  public ServerConfig withAuth(AuthSettings a) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, a, limits, cli, defaults,
        models, inferenceThreads, purifyThreads, shutdownGrace, probeRows);
  }

  public ServerConfig withLimits(Limits l) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, l, cli, defaults,
        models, inferenceThreads, purifyThreads, shutdownGrace, probeRows);
  }

  public ServerConfig withModels(List<ModelLayer> m) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli,
        defaults, m, inferenceThreads, purifyThreads, shutdownGrace, probeRows);
  }

  public ServerConfig withDefaults(ModelLayer d) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli,
        d, models, inferenceThreads, purifyThreads, shutdownGrace, probeRows);
  }

  public ServerConfig withCacheMaxBytes(long b) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, b, auth, limits, cli,
        defaults, models, inferenceThreads, purifyThreads, shutdownGrace, probeRows);
  }

  public ServerConfig withShutdownGrace(Duration g) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli,
        defaults, models, inferenceThreads, purifyThreads, g, probeRows);
  }

  public ServerConfig withProbeRows(int r) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli,
        defaults, models, inferenceThreads, purifyThreads, shutdownGrace, r);
  }

  @SafeVarargs
  private static <T> T first(T... values) {
    for (T v : values) {
      if (v != null) {
        return v;
      }
    }
    return null;
  }

  private static void positive(String name, long v) {
    if (v <= 0) {
      throw new IllegalArgumentException(name + " must be > 0, got " + v);
    }
  }
}

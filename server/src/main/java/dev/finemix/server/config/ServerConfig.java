package dev.finemix.server.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.server.batching.BatchSettings;
import java.net.InetAddress;
import java.net.UnknownHostException;
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
 * @param listeners the addresses the gRPC, metrics and health listeners bind
 * @param allowUnpurifiedModels whether a model may be registered with allow_unpurified at all (off by default: the
 *     admin token alone must not be enough to serve a checkpoint as is)
 */
public record ServerConfig(int port, int metricsPort, Path modelsRoot, Path dataRoot, Path cacheDir,
    long cacheMaxBytes, AuthSettings auth, Limits limits, ModelLayer cli, ModelLayer defaults,
    List<ModelLayer> models, int inferenceThreads, int purifyThreads, Duration shutdownGrace, int probeRows,
    Listeners listeners, boolean allowUnpurifiedModels) {

  /** 127.0.0.1: the default of every listener, so a plain {@code finemix serve} is reachable from this host only. */
  public static final InetAddress LOOPBACK = ipv4(127, 0, 0, 1);
  /** 0.0.0.0: every interface (in a pod: its IP, so Prometheus and the kubelet reach metrics and health). */
  public static final InetAddress ANY = ipv4(0, 0, 0, 0);

  /**
   * Where the listeners bind.
   *
   * @param grpc address of the gRPC port (every service: Classify, admin calls, KServe v2, health, reflection)
   * @param metrics address of the Prometheus /metrics port
   * @param healthPort a second, plaintext gRPC port serving only grpc.health.v1 (-1 = none, 0 = ephemeral), for
   *     Kubernetes probes: the kubelet connects to the pod IP, which a loopback gRPC port does not listen on
   * @param health address of the health port
   */
  public record Listeners(InetAddress grpc, InetAddress metrics, int healthPort, InetAddress health) {
    public Listeners {
      Objects.requireNonNull(grpc, "listen_address");
      Objects.requireNonNull(metrics, "metrics_listen_address");
      Objects.requireNonNull(health, "health_listen_address");
      if (healthPort < -1 || healthPort > 65535) {
        throw new IllegalArgumentException("health_port must be -1 (off) or 0..65535, got " + healthPort);
      }
    }

    /** Everything on 127.0.0.1, no health port. */
    public static Listeners loopback() {
      return new Listeners(LOOPBACK, LOOPBACK, -1, LOOPBACK);
    }

    public Listeners withGrpc(InetAddress a) {
      return new Listeners(a, metrics, healthPort, health);
    }

    public Listeners withMetrics(InetAddress a) {
      return new Listeners(grpc, a, healthPort, health);
    }
  }

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
    Objects.requireNonNull(listeners, "listeners");
    int health = listeners.healthPort();
    if (port > 0 && (port == metricsPort || port == health) || metricsPort > 0 && metricsPort == health) {
      throw new IllegalArgumentException("port, metrics_port and health_port must differ, got " + port + ", "
          + metricsPort + " and " + health);
    }
    if (!allowUnpurifiedModels) {
      String why = " sets allow_unpurified, but this server does not permit unpurified models: set"
          + " allow_unpurified_models: true in the config (or serve --allow-unpurified-models)";
      if (Boolean.TRUE.equals(defaults.allowUnpurified()) || Boolean.TRUE.equals(cli.allowUnpurified())) {
        throw new IllegalArgumentException("defaults" + why);
      }
      for (int i = 0; i < models.size(); i++) {
        if (Boolean.TRUE.equals(models.get(i).allowUnpurified())) {
          throw new IllegalArgumentException("models[" + i + "] (" + models.get(i).name() + ")" + why);
        }
      }
    }
  }

  private static InetAddress ipv4(int a, int b, int c, int d) {
    try {
      return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
    } catch (UnknownHostException e) {
      throw new AssertionError(e); // four bytes are always a valid address
    }
  }

  /** Defaults for everything but the folders; tests and the CLI start here. */
  public static ServerConfig defaults(Path modelsRoot, Path dataRoot, Path cacheDir) {
    return new ServerConfig(0, -1, modelsRoot, dataRoot, cacheDir, 20L << 30,
        new AuthSettings(true, cacheDir.resolve("admin.token"), false), Limits.defaults(), ModelLayer.EMPTY,
        ModelLayer.EMPTY, List.of(), Math.max(1, Runtime.getRuntime().availableProcessors() / 2), 1,
        Duration.ofSeconds(10), 64, Listeners.loopback(), false);
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
        models, inferenceThreads, purifyThreads, shutdownGrace, probeRows, listeners,
        allowUnpurifiedModels);
  }

  public ServerConfig withMetricsPort(int p) {
    return new ServerConfig(port, p, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli, defaults,
        models, inferenceThreads, purifyThreads, shutdownGrace, probeRows, listeners,
        allowUnpurifiedModels);
  }

  public ServerConfig withAuth(AuthSettings a) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, a, limits, cli, defaults,
        models, inferenceThreads, purifyThreads, shutdownGrace, probeRows, listeners,
        allowUnpurifiedModels);
  }

  public ServerConfig withLimits(Limits l) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, l, cli, defaults,
        models, inferenceThreads, purifyThreads, shutdownGrace, probeRows, listeners,
        allowUnpurifiedModels);
  }

  public ServerConfig withModels(List<ModelLayer> m) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli,
        defaults, m, inferenceThreads, purifyThreads, shutdownGrace, probeRows, listeners,
        allowUnpurifiedModels);
  }

  public ServerConfig withDefaults(ModelLayer d) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli,
        d, models, inferenceThreads, purifyThreads, shutdownGrace, probeRows, listeners,
        allowUnpurifiedModels);
  }

  public ServerConfig withCacheMaxBytes(long b) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, b, auth, limits, cli,
        defaults, models, inferenceThreads, purifyThreads, shutdownGrace, probeRows, listeners,
        allowUnpurifiedModels);
  }

  public ServerConfig withShutdownGrace(Duration g) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli,
        defaults, models, inferenceThreads, purifyThreads, g, probeRows, listeners,
        allowUnpurifiedModels);
  }

  public ServerConfig withProbeRows(int r) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli,
        defaults, models, inferenceThreads, purifyThreads, shutdownGrace, r, listeners,
        allowUnpurifiedModels);
  }

  public ServerConfig withListeners(Listeners l) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli,
        defaults, models, inferenceThreads, purifyThreads, shutdownGrace, probeRows, l, allowUnpurifiedModels);
  }

  public ServerConfig withAllowUnpurifiedModels(boolean allow) {
    return new ServerConfig(port, metricsPort, modelsRoot, dataRoot, cacheDir, cacheMaxBytes, auth, limits, cli,
        defaults, models, inferenceThreads, purifyThreads, shutdownGrace, probeRows, listeners, allow);
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

package dev.finemix.server.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.onnx.Precision;
import dev.finemix.server.batching.BatchSettings;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The server's whole configuration, immutable. {@link ConfigLoader} builds it from a YAML/JSON file and the command
 * line; tests and commands start from {@link #builder} (the defaults) or {@link #toBuilder}. Each setter checks its
 * value and names the config key in the message; {@link Builder#build} checks what spans settings (distinct ports,
 * allow_unpurified only where the server permits it).
 */
public final class ServerConfig {

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

  private final Builder v;

  private ServerConfig(Builder v) {
    this.v = v;
    int health = v.listeners.healthPort();
    if (v.port > 0 && (v.port == v.metricsPort || v.port == health) || v.metricsPort > 0 && v.metricsPort == health) {
      throw new IllegalArgumentException("port, metrics_port and health_port must differ, got " + v.port + ", "
          + v.metricsPort + " and " + health);
    }
    if (!v.allowUnpurifiedModels) {
      String why = " sets allow_unpurified, but this server does not permit unpurified models: set"
          + " allow_unpurified_models: true in the config (or serve --allow-unpurified-models)";
      if (Boolean.TRUE.equals(v.defaults.allowUnpurified()) || Boolean.TRUE.equals(v.cli.allowUnpurified())) {
        throw new IllegalArgumentException("defaults" + why);
      }
      for (int i = 0; i < v.models.size(); i++) {
        if (Boolean.TRUE.equals(v.models.get(i).allowUnpurified())) {
          throw new IllegalArgumentException("models[" + i + "] (" + v.models.get(i).name() + ")" + why);
        }
      }
    }
  }

  /**
   * The defaults for everything but the three folders: ephemeral gRPC port, no metrics, auth on with the token in
   * {@code cacheDir/admin.token}, loopback listeners, no models.
   */
  public static Builder builder(Path modelsRoot, Path dataRoot, Path cacheDir) {
    return new Builder().modelsRoot(modelsRoot).dataRoot(dataRoot).cacheDir(cacheDir)
        .auth(new AuthSettings(true, cacheDir.resolve("admin.token"), false));
  }

  public Builder toBuilder() {
    return v.copy();
  }

  public int port() {
    return v.port;
  }

  public int metricsPort() {
    return v.metricsPort;
  }

  public Path modelsRoot() {
    return v.modelsRoot;
  }

  public Path dataRoot() {
    return v.dataRoot;
  }

  public Path cacheDir() {
    return v.cacheDir;
  }

  public long cacheMaxBytes() {
    return v.cacheMaxBytes;
  }

  public AuthSettings auth() {
    return v.auth;
  }

  public Limits limits() {
    return v.limits;
  }

  public ModelLayer cli() {
    return v.cli;
  }

  public ModelLayer defaults() {
    return v.defaults;
  }

  public List<ModelLayer> models() {
    return v.models;
  }

  public int inferenceThreads() {
    return v.inferenceThreads;
  }

  public int purifyThreads() {
    return v.purifyThreads;
  }

  public Duration shutdownGrace() {
    return v.shutdownGrace;
  }

  public int probeRows() {
    return v.probeRows;
  }

  public Listeners listeners() {
    return v.listeners;
  }

  public boolean allowUnpurifiedModels() {
    return v.allowUnpurifiedModels;
  }

  private static InetAddress ipv4(int a, int b, int c, int d) {
    try {
      return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
    } catch (UnknownHostException e) {
      throw new AssertionError(e); // four bytes are always a valid address
    }
  }

  /**
   * One model's settings, merged. Precedence, decided here and nowhere else: the command line ({@link #cli}), then
   * the model's own layer (its config entry or RegisterModel request), then {@link #defaults}, then the built-in
   * defaults. Defence, batching and screening settings merge key by key; the others come from the first layer that
   * sets them.
   */
  public ModelSpec resolve(ModelLayer model) {
    ModelLayer m = model == null ? ModelLayer.EMPTY : model;
    ModelLayer cli = cli();
    ModelLayer dflt = defaults();
    ObjectNode defence = Json.merge(Json.merge(dflt.defence(), m.defence()), cli.defence());
    BatchSettings batching = BatchSettings.defaults();
    Precision precision = first(cli.precision(), m.precision(), dflt.precision(), Precision.FP32);
    // a low precision does not screen (ModelSpec refuses a policy other than off): its built-in default is off
    ScreeningSettings screening = precision == Precision.FP32 ? ScreeningSettings.defaults()
        : new ScreeningSettings(ScreenPolicy.OFF, ScreeningSettings.DEFAULT_FALSE_FLAG_RATE,
            ScreeningSettings.DEFAULT_SIGNAL);
    for (ModelLayer layer : List.of(dflt, m, cli)) { // lowest first: each layer over the ones below
      if (layer.batching() != null) {
        batching = layer.batching().over(batching);
      }
      if (layer.screening() != null) {
        screening = layer.screening().over(screening);
      }
    }
    return new ModelSpec(
        first(cli.name(), m.name()),
        first(cli.checkpoint(), m.checkpoint(), dflt.checkpoint()),
        first(cli.cleanSubset(), m.cleanSubset(), dflt.cleanSubset()),
        first(cli.unlabelledSubset(), m.unlabelledSubset(), dflt.unlabelledSubset()),
        first(cli.baseModel(), m.baseModel(), dflt.baseModel()),
        Boolean.TRUE.equals(first(cli.allowUnpurified(), m.allowUnpurified(), dflt.allowUnpurified())),
        first(cli.inputKind(), m.inputKind(), dflt.inputKind(), InputKindSetting.AUTO),
        defence, batching, screening, precision);
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

  private static int positive(String name, int v) {
    return (int) positive(name, (long) v);
  }

  private static long positive(String name, long v) {
    CopyableBuilder.requireArgument(v > 0, name + " must be > 0, got " + v);
    return v;
  }

  /** Mutable; {@link #build} takes a copy. Each field's default is the one a plain {@code finemix serve} runs with. */
  public static final class Builder extends CopyableBuilder<Builder> {
    private int port;
    private int metricsPort = -1;
    private Path modelsRoot;
    private Path dataRoot;
    private Path cacheDir;
    private long cacheMaxBytes = 20L << 30;
    private AuthSettings auth;
    private Limits limits = Limits.defaults();
    private ModelLayer cli = ModelLayer.EMPTY;
    private ModelLayer defaults = ModelLayer.EMPTY;
    private List<ModelLayer> models = List.of();
    private int inferenceThreads = Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    private int purifyThreads = 1;
    private Duration shutdownGrace = Duration.ofSeconds(10);
    private int probeRows = 64;
    private Listeners listeners = Listeners.loopback();
    private boolean allowUnpurifiedModels;

    private Builder() {
    }

    /** gRPC port (0 = ephemeral) */
    public Builder port(int p) {
      requireArgument(p >= 0 && p <= 65535, "port must be 0..65535, got " + p);
      port = p;
      return this;
    }

    /** Prometheus /metrics HTTP port (0 = ephemeral, -1 = off) */
    public Builder metricsPort(int p) {
      requireArgument(p >= -1 && p <= 65535, "metrics_port must be -1 (off) or 0..65535, got " + p);
      metricsPort = p;
      return this;
    }

    /** the only folder checkpoints are read from */
    public Builder modelsRoot(Path p) {
      modelsRoot = requireSet(p, "models_root");
      return this;
    }

    /** the only folder clean subsets are read from */
    public Builder dataRoot(Path p) {
      dataRoot = requireSet(p, "data_root");
      return this;
    }

    /** purified-weight cache folder */
    public Builder cacheDir(Path p) {
      cacheDir = requireSet(p, "cache_dir");
      return this;
    }

    /** size bound of the cache */
    public Builder cacheMaxBytes(long b) {
      cacheMaxBytes = positive("cache_max_bytes", b);
      return this;
    }

    /** admin-token settings */
    public Builder auth(AuthSettings a) {
      auth = requireSet(a, "auth");
      return this;
    }

    /** input limits */
    public Builder limits(Limits l) {
      limits = requireSet(l, "limits");
      return this;
    }

    /** model settings from the command line (null: none) */
    public Builder cli(ModelLayer l) {
      cli = l == null ? ModelLayer.EMPTY : l;
      return this;
    }

    /** model settings used where neither the command line nor the model says (null: none) */
    public Builder defaults(ModelLayer l) {
      defaults = l == null ? ModelLayer.EMPTY : l;
      return this;
    }

    /** models to load at start; names unique */
    public Builder models(List<ModelLayer> m) {
      List<ModelLayer> copy = List.copyOf(requireSet(m, "models"));
      requireArgument(copy.stream().map(ModelLayer::name).distinct().count() == copy.size(),
          "model names in the config must be unique");
      models = copy;
      return this;
    }

    /** threads running batches (all models) */
    public Builder inferenceThreads(int n) {
      inferenceThreads = positive("inference_threads", n);
      return this;
    }

    /** threads loading and purifying models */
    public Builder purifyThreads(int n) {
      purifyThreads = positive("purify_threads", n);
      return this;
    }

    /** how long running calls may finish on shutdown */
    public Builder shutdownGrace(Duration g) {
      requireArgument(!requireSet(g, "shutdown_grace").isNegative(), "shutdown_grace must be >= 0, got " + g);
      shutdownGrace = g;
      return this;
    }

    /** clean rows used by the attack probe */
    public Builder probeRows(int n) {
      probeRows = positive("probe_rows", n);
      return this;
    }

    /** the addresses the gRPC, metrics and health listeners bind */
    public Builder listeners(Listeners l) {
      listeners = requireSet(l, "listeners");
      return this;
    }

    /**
     * whether a model may be registered with allow_unpurified at all (off by default: the admin token alone must not
     * be enough to serve a checkpoint as is)
     */
    public Builder allowUnpurifiedModels(boolean allow) {
      allowUnpurifiedModels = allow;
      return this;
    }

    public ServerConfig build() {
      return new ServerConfig(copy());
    }
  }

}

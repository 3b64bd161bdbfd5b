package dev.finemix.server.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import dev.finemix.purify.onnx.Precision;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Reads the server config file (YAML or JSON, snake_case keys; unknown keys are errors) and lays the command
 * line ({@link Overrides}) over it: a server setting comes from the command line, then the file, then
 * {@link ServerConfig#builder}'s defaults; model settings keep their layers apart until {@link ServerConfig#resolve}
 * merges them. Relative folders in the file are resolved against the file's folder.
 *
 * <pre>
 * port: 8500
 * listen_address: 127.0.0.1    # gRPC; 0.0.0.0 = every interface
 * metrics_port: 9400
 * metrics_listen_address: 127.0.0.1
 * health_port: -1              # a plaintext gRPC port with only grpc.health.v1 (for Kubernetes probes); -1 = none
 * health_listen_address: 127.0.0.1
 * allow_unpurified_models: false   # whether a model may set allow_unpurified at all
 * models_root: models          # checkpoints are read only from here
 * data_root: data              # clean subsets are read only from here (default: models_root)
 * cache_dir: cache
 * cache_max_bytes: 21474836480
 * inference_threads: 1
 * purify_threads: 1
 * shutdown_grace_seconds: 10
 * probe_rows: 64
 * auth: {enabled: true, token_file: cache/admin.token, protect_classify: false}
 * limits: {max_texts_per_request: 256, max_chars_per_text: 10000, max_message_bytes: 4194304}
 * defaults:
 *   base_model: sentence-transformers/all-MiniLM-L6-v2
 *   defence: {mix: SEL, rho: 0.3}
 *   batching: {max_batch_size: 32, max_wait_micros: 2000, queue_capacity: 256, max_concurrent_batches: 1}
 *   screening: {policy: observe, false_flag_rate: 0.01, signal: tokens}   # policy: off, observe, reject, strip
 *   precision: fp32              # or int8 (ONNX Runtime; needs screening.policy off)
 * models:
 *   - {name: sst2, checkpoint: sst2-badnet, clean_subset: sst2/clean-64.tsv, unlabelled_subset: sst2/pool.tsv}
 * </pre>
 */
public final class ConfigLoader {
  private static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  private static final Set<String> TOP = Set.of("port", "metrics_port", "models_root", "data_root", "cache_dir",
      "cache_max_bytes", "inference_threads", "purify_threads", "shutdown_grace_seconds", "probe_rows", "auth", "limits",
      "defaults", "models", "listen_address", "metrics_listen_address", "health_port", "health_listen_address",
      "allow_unpurified_models");
  private static final Set<String> AUTH = Set.of("enabled", "token_file", "protect_classify");
  private static final Set<String> LIMITS = Set.of("max_texts_per_request", "max_chars_per_text", "max_message_bytes");
  private static final Set<String> MODEL = Set.of("name", "checkpoint", "clean_subset", "unlabelled_subset", "base_model",
      "allow_unpurified", "input_kind", "defence", "batching", "screening", "precision");
  private static final Set<String> SCREENING = Set.of("policy", "false_flag_rate", "signal");
  private static final Set<String> BATCHING = Set.of("max_batch_size", "max_wait_micros", "queue_capacity",
      "max_concurrent_batches");

  /** Command-line settings: each one given wins over the file. */
  public static final class Overrides {
    /** Nothing given on the command line. */
    public static final Overrides NONE = builder().build();

    private final Builder v;

    private Overrides(Builder v) {
      this.v = v;
    }

    public static Builder builder() {
      return new Builder();
    }

    /** Every setting optional: null (or never set) means "not given". */
    public static final class Builder extends CopyableBuilder<Builder> {
      private Integer port;
      private Integer metricsPort;
      private Path modelsRoot;
      private Path dataRoot;
      private Path cacheDir;
      private boolean noAuth;
      private ModelLayer model;
      private String listenAddress;
      private String metricsListenAddress;
      private boolean allowUnpurifiedModels;

      private Builder() {
      }

      public Builder port(Integer p) {
        port = p;
        return this;
      }

      public Builder metricsPort(Integer p) {
        metricsPort = p;
        return this;
      }

      public Builder modelsRoot(Path p) {
        modelsRoot = p;
        return this;
      }

      public Builder dataRoot(Path p) {
        dataRoot = p;
        return this;
      }

      public Builder cacheDir(Path p) {
        cacheDir = p;
        return this;
      }

      /** true turns admin-token checks off explicitly */
      public Builder noAuth(boolean off) {
        noAuth = off;
        return this;
      }

      /** model settings given on the command line (batching, screening) */
      public Builder model(ModelLayer m) {
        model = m;
        return this;
      }

      /** gRPC bind address (an IP literal) */
      public Builder listenAddress(String a) {
        listenAddress = a;
        return this;
      }

      /** metrics bind address (an IP literal) */
      public Builder metricsListenAddress(String a) {
        metricsListenAddress = a;
        return this;
      }

      /** true permits models with allow_unpurified, whatever the file says */
      public Builder allowUnpurifiedModels(boolean allow) {
        allowUnpurifiedModels = allow;
        return this;
      }

      public Overrides build() {
        return new Overrides(copy());
      }
    }
  }

  private ConfigLoader() {
  }

  /**
   * @param file the config file, or null for none (then the command line must name the models root and cache)
   * @throws IllegalArgumentException naming the file and key for every bad value
   */
  public static ServerConfig load(Path file, Overrides overrides) {
    Overrides.Builder cli = overrides.v;
    JsonNode root = Json.object();
    Path base = Path.of("").toAbsolutePath();
    if (file != null) {
      try {
        root = YAML.readTree(Files.readString(file));
      } catch (IOException e) {
        throw new IllegalArgumentException("cannot read config " + file + ": " + e.getMessage());
      }
      if (root == null || root.isMissingNode() || root.isNull()) {
        root = Json.object();
      }
      if (!root.isObject()) {
        throw new IllegalArgumentException("config " + file + " must be a mapping at the top level");
      }
      base = file.toAbsolutePath().getParent();
    }
    String where = file == null ? "command line" : file.toString();
    checkKeys(where, "", root, TOP);
    Path modelsRoot = cli.modelsRoot != null ? cli.modelsRoot : path(base, root, "models_root");
    if (modelsRoot == null) {
      throw new IllegalArgumentException("no models root: set models_root in the config or --models-root");
    }
    Path dataRoot = cli.dataRoot != null ? cli.dataRoot : path(base, root, "data_root");
    Path cacheDir = cli.cacheDir != null ? cli.cacheDir : path(base, root, "cache_dir");
    if (cacheDir == null) {
      throw new IllegalArgumentException("no cache folder: set cache_dir in the config or --cache-dir");
    }
    ServerConfig d = ServerConfig.builder(modelsRoot, dataRoot == null ? modelsRoot : dataRoot, cacheDir).build();

    JsonNode a = root.path("auth");
    checkKeys(where, "auth.", a, AUTH);
    Path tokenFile = a.has("token_file") ? base.resolve(a.get("token_file").asText()) : d.auth().tokenFile();
    boolean authOn = bool(where, "auth.enabled", a.get("enabled"), true) && !cli.noAuth;
    var auth = new ServerConfig.AuthSettings(authOn, tokenFile,
        bool(where, "auth.protect_classify", a.get("protect_classify"), false));

    JsonNode l = root.path("limits");
    checkKeys(where, "limits.", l, LIMITS);
    var limits = new ServerConfig.Limits(
        integer(where, "limits.max_texts_per_request", l.get("max_texts_per_request"), d.limits().maxTextsPerRequest()),
        integer(where, "limits.max_chars_per_text", l.get("max_chars_per_text"), d.limits().maxCharsPerText()),
        integer(where, "limits.max_message_bytes", l.get("max_message_bytes"), d.limits().maxMessageBytes()));

    ModelLayer defaults = root.has("defaults") ? model(where, "defaults.", root.get("defaults")) : ModelLayer.EMPTY;
    List<ModelLayer> models = new ArrayList<>();
    JsonNode ms = root.path("models");
    if (!ms.isMissingNode() && !ms.isArray()) {
      throw new IllegalArgumentException(where + ": models must be a list");
    }
    for (int i = 0; i < ms.size(); i++) {
      ModelLayer m = model(where, "models[" + i + "].", ms.get(i));
      if (m.name() == null) {
        throw new IllegalArgumentException(where + ": models[" + i + "].name is missing");
      }
      models.add(m);
    }
    int port = cli.port != null ? cli.port : integer(where, "port", root.get("port"), 8500);
    int metricsPort = cli.metricsPort != null ? cli.metricsPort
        : integer(where, "metrics_port", root.get("metrics_port"), 9400);
    InetAddress grpcAddress = address(cli.listenAddress != null ? "--listen-address" : where + ": listen_address",
        cli.listenAddress != null ? cli.listenAddress : text(root, "listen_address"), d.listeners().grpc());
    InetAddress metricsAddress = address(cli.metricsListenAddress != null ? "--metrics-listen-address"
        : where + ": metrics_listen_address", cli.metricsListenAddress != null ? cli.metricsListenAddress
        : text(root, "metrics_listen_address"), d.listeners().metrics());
    InetAddress healthAddress = address(where + ": health_listen_address", text(root, "health_listen_address"),
        d.listeners().health());
    int healthPort = integer(where, "health_port", root.get("health_port"), d.listeners().healthPort());
    boolean allowUnpurified = cli.allowUnpurifiedModels
        || bool(where, "allow_unpurified_models", root.get("allow_unpurified_models"), d.allowUnpurifiedModels());
    long cacheMaxBytes = longValue(where, "cache_max_bytes", root.get("cache_max_bytes"), d.cacheMaxBytes());
    int inferenceThreads = integer(where, "inference_threads", root.get("inference_threads"), d.inferenceThreads());
    int purifyThreads = integer(where, "purify_threads", root.get("purify_threads"), d.purifyThreads());
    double graceSeconds = number(where, "shutdown_grace_seconds", root.get("shutdown_grace_seconds"),
        d.shutdownGrace().toMillis() / 1000.0);
    int probeRows = integer(where, "probe_rows", root.get("probe_rows"), d.probeRows());
    try {
      return d.toBuilder().port(port).metricsPort(metricsPort).cacheMaxBytes(cacheMaxBytes).auth(auth).limits(limits)
          .cli(cli.model).defaults(defaults).models(models).inferenceThreads(inferenceThreads)
          .purifyThreads(purifyThreads).shutdownGrace(Duration.ofMillis((long) (1000 * graceSeconds)))
          .probeRows(probeRows).listeners(new ServerConfig.Listeners(grpcAddress, metricsAddress, healthPort,
              healthAddress)).allowUnpurifiedModels(allowUnpurified).build();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + ": " + e.getMessage(), e);
    }
  }

  /**
   * An IP address literal, never a host name: what a listener binds must not depend on a DNS lookup.
   *
   * @param key where the value came from and its name, for the message
   * @param value the setting, or null for {@code dflt}
   * @throws IllegalArgumentException for anything but an IPv4 or IPv6 literal
   */
  private static InetAddress address(String key, String value, InetAddress dflt) {
    if (value == null) {
      return dflt;
    }
    String v = value.trim();
    String bad = key + " must be an IP address (127.0.0.1 or ::1 for this host only, 0.0.0.0 or :: for every"
        + " interface), got '" + v + "'";
    boolean v4 = v.matches("(0|[1-9]\\d{0,2})(\\.(0|[1-9]\\d{0,2})){3}"); // no leading zeros: no octal guesses
    if (v4) {
      for (String octet : v.split("\\.")) {
        if (Integer.parseInt(octet) > 255) {
          throw new IllegalArgumentException(bad);
        }
      }
    } else if (v.indexOf(':') < 0) { // neither form: a host name, which InetAddress would look up
      throw new IllegalArgumentException(bad);
    }
    try {
      return InetAddress.getByName(v); // a literal: only its format is checked
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(bad);
    }
  }

  private static ModelLayer model(String where, String prefix, JsonNode n) {
    if (!n.isObject()) {
      throw new IllegalArgumentException(where + ": " + prefix + " must be a mapping");
    }
    checkKeys(where, prefix, n, MODEL);
    JsonNode b = n.path("batching");
    checkKeys(where, prefix + "batching.", b, BATCHING);
    BatchingLayer batching = b.isMissingNode() ? null : new BatchingLayer(
        integerOrNull(where, prefix + "batching.max_batch_size", b.get("max_batch_size")),
        b.has("max_wait_micros") ? longValue(where, prefix + "batching.max_wait_micros", b.get("max_wait_micros"), 0)
            : null,
        integerOrNull(where, prefix + "batching.queue_capacity", b.get("queue_capacity")),
        integerOrNull(where, prefix + "batching.max_concurrent_batches", b.get("max_concurrent_batches")));
    JsonNode def = n.get("defence");
    if (def != null && !def.isObject()) {
      throw new IllegalArgumentException(where + ": " + prefix + "defence must be a mapping");
    }
    InputKindSetting kind = null;
    if (n.has("input_kind")) {
      try {
        kind = InputKindSetting.valueOf(n.get("input_kind").asText().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + ": " + prefix + "input_kind must be AUTO, SINGLE or PAIR, got "
            + n.get("input_kind").asText());
      }
    }
    Precision precision = null;
    if (n.has("precision")) {
      try {
        precision = Precision.parse(n.get("precision").asText());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + ": " + prefix + "precision: " + e.getMessage());
      }
    }
    return ModelLayer.builder().name(text(n, "name")).checkpoint(text(n, "checkpoint")).precision(precision)
        .cleanSubset(text(n, "clean_subset")).unlabelledSubset(text(n, "unlabelled_subset"))
        .baseModel(text(n, "base_model"))
        .allowUnpurified(n.has("allow_unpurified")
            ? bool(where, prefix + "allow_unpurified", n.get("allow_unpurified"), false) : null)
        .inputKind(kind).defence((ObjectNode) def).batching(batching)
        .screening(screening(where, prefix + "screening.", n.path("screening"))).build();
  }

  private static ScreeningLayer screening(String where, String prefix, JsonNode s) {
    if (s.isMissingNode() || s.isNull()) {
      return null;
    }
    checkKeys(where, prefix, s, SCREENING);
    ScreenPolicy policy = null;
    JsonNode p = s.get("policy");
    if (p != null && !p.isNull()) {
      // YAML reads a bare off as the boolean false
      String v = p.isBoolean() && !p.booleanValue() ? "off" : p.isTextual() ? p.asText() : p.toString();
      try {
        policy = ScreenPolicy.parse(v);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(where + ": " + prefix + "policy " + e.getMessage());
      }
    }
    Double rate = s.hasNonNull("false_flag_rate") ? number(where, prefix + "false_flag_rate", s.get("false_flag_rate"), 0)
        : null;
    try {
      return new ScreeningLayer(policy, rate, text(s, "signal"));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(where + ": " + prefix + e.getMessage());
    }
  }

  private static void checkKeys(String where, String prefix, JsonNode n, Set<String> allowed) {
    if (n.isMissingNode()) {
      return;
    }
    if (!n.isObject()) {
      throw new IllegalArgumentException(where + ": " + (prefix.isEmpty() ? "the top level" : prefix) + " must be a mapping");
    }
    for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
      String k = it.next();
      if (!allowed.contains(k)) {
        throw new IllegalArgumentException(where + ": unknown key '" + prefix + k + "' (known: " + allowed.stream()
            .sorted().toList() + ")");
      }
    }
  }

  private static String text(JsonNode n, String key) {
    JsonNode v = n.get(key);
    return v == null || v.isNull() ? null : v.asText();
  }

  private static Path path(Path base, JsonNode n, String key) {
    String t = text(n, key);
    return t == null ? null : base.resolve(t).normalize();
  }

  private static boolean bool(String where, String key, JsonNode v, boolean dflt) {
    if (v == null || v.isNull()) {
      return dflt;
    }
    if (!v.isBoolean()) {
      throw new IllegalArgumentException(where + ": " + key + " must be true or false, got " + v);
    }
    return v.booleanValue();
  }

  private static Integer integerOrNull(String where, String key, JsonNode v) {
    return v == null || v.isNull() ? null : integer(where, key, v, 0);
  }

  private static int integer(String where, String key, JsonNode v, int dflt) {
    if (v == null || v.isNull()) {
      return dflt;
    }
    if (!v.canConvertToInt() || !v.isIntegralNumber()) {
      throw new IllegalArgumentException(where + ": " + key + " must be an integer, got " + v);
    }
    return v.intValue();
  }

  private static long longValue(String where, String key, JsonNode v, long dflt) {
    if (v == null || v.isNull()) {
      return dflt;
    }
    if (!v.isIntegralNumber() || !v.canConvertToLong()) {
      throw new IllegalArgumentException(where + ": " + key + " must be an integer, got " + v);
    }
    return v.longValue();
  }

  private static double number(String where, String key, JsonNode v, double dflt) {
    if (v == null || v.isNull()) {
      return dflt;
    }
    if (!v.isNumber()) {
      throw new IllegalArgumentException(where + ": " + key + " must be a number, got " + v);
    }
    return v.doubleValue();
  }
}

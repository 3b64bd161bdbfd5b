package dev.finemix.server.registry;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import dev.finemix.server.batching.Batcher;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.cache.CacheKey;
import dev.finemix.server.cache.PurifiedCache;
import dev.finemix.server.config.Json;
import dev.finemix.server.config.ModelSpec;
import dev.finemix.server.config.ScreenPolicy;
import dev.finemix.server.config.ScreeningSettings;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.errors.ErrorReason;
import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.loading.CheckpointInfo;
import dev.finemix.server.loading.CleanSubset;
import dev.finemix.server.loading.ModelBackend;
import dev.finemix.server.loading.Predictor;
import dev.finemix.server.loading.Progress;
import dev.finemix.server.loading.PurifyJob;
import dev.finemix.server.loading.PurifyOutcome;
import dev.finemix.server.loading.SafeRoot;
import dev.finemix.server.loading.Scores;
import dev.finemix.server.loading.ScreenCalibration;
import dev.finemix.server.loading.ScreenJob;
import dev.finemix.server.loading.Suspicion;
import dev.finemix.server.loading.TextRow;
import dev.finemix.server.metrics.ServerMetrics;
import dev.finemix.server.probe.AttackProbe;
import dev.finemix.server.probe.ProbeReport;
import dev.finemix.server.probe.TokenProbe;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Semaphore;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Collectors;

/**
 * The registered models and everything done to them: registration (validated at once, loaded and purified in the
 * background), classification through each model's batcher, Defend (re-purify while the old weights serve, then
 * one atomic swap), probes, removal. Entries are held in a Caffeine cache whose removal listener closes them.
 */
public final class ModelManager implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ModelManager.class.getName());
  static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  private final ServerConfig config;
  private final ModelBackend backend;
  private final PurifiedCache cache;
  private final ServerMetrics metrics;
  private final Executor inferencePool;
  /** Loads, purifications, probes; purifications additionally take a {@link #purifySlots} permit. */
  private final ExecutorService workPool;
  private final Semaphore purifySlots;
  private final Ticker ticker;
  private final Clock clock;
  private final StateListener listener;
  private final SafeRoot modelsRoot;
  private final SafeRoot dataRoot;
  private final AttackProbe probe;
  private final Cache<String, ModelEntry> entries;
  private volatile boolean closed;

  public ModelManager(ServerConfig config, ModelBackend backend, PurifiedCache cache, ServerMetrics metrics,
      Executor inferencePool, ExecutorService workPool, Ticker ticker, Clock clock, StateListener listener) {
    this.config = Objects.requireNonNull(config, "config");
    this.backend = Objects.requireNonNull(backend, "backend");
    this.cache = Objects.requireNonNull(cache, "cache");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.inferencePool = Objects.requireNonNull(inferencePool, "inferencePool");
    this.workPool = Objects.requireNonNull(workPool, "workPool");
    this.purifySlots = new Semaphore(config.purifyThreads(), true);
    this.ticker = Objects.requireNonNull(ticker, "ticker");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.modelsRoot = new SafeRoot(config.modelsRoot(), "models root");
    this.dataRoot = new SafeRoot(config.dataRoot(), "data root");
    this.probe = new AttackProbe(backend::insertTrigger, 20221030L);
    this.entries = Caffeine.newBuilder()
        .executor(Runnable::run)
        .removalListener((String name, ModelEntry e, RemovalCause cause) -> {
          if (e != null) {
            e.close();
          }
        })
        .build();
  }

  public ServerConfig config() {
    return config;
  }

  /**
   * Validates and registers a model; loading and purification continue in the background.
   *
   * @throws ServiceException INVALID_ARGUMENT for bad paths or checkpoints, ALREADY_EXISTS without replace,
   *     FAILED_PRECONDITION for allow_unpurified on a server that does not permit it
   */
  public ModelView register(ModelSpec requested, boolean replace) {
    requireOpen(requested.name());
    if (requested.allowUnpurified() && !config.allowUnpurifiedModels()) {
      throw ServiceException.unpurifiedNotAllowed(requested.name());
    }
    ModelSpec spec = requested.withDefence(normalizeDefence(requested.defence()));
    Path ckpt = modelsRoot.resolve("checkpoint_path", spec.checkpoint());
    SafeRoot.requireSafetensors("checkpoint_path", ckpt);
    modelsRoot.requireContained("checkpoint_path", ckpt);
    Path clean = spec.cleanSubset() == null ? null : dataRoot.resolve("clean_subset_path", spec.cleanSubset());
    Path unlabelled = spec.unlabelledSubset() == null ? null
        : dataRoot.resolve("unlabelled_subset_path", spec.unlabelledSubset());
    if (unlabelled != null) {
      try {
        CleanSubset.read(unlabelled, 1);
      } catch (RuntimeException e) {
        throw ServiceException.badRequest("unlabelled_subset_path", e.getMessage());
      }
    }
    CleanSubset head = null;
    if (clean != null) {
      try {
        head = CleanSubset.read(clean, 1);
      } catch (RuntimeException e) {
        throw ServiceException.badRequest("clean_subset_path", e.getMessage());
      }
    }
    ScreenPolicy policy = spec.screening().policy();
    if (clean == null && (policy == ScreenPolicy.REJECT || policy == ScreenPolicy.STRIP)) {
      throw ServiceException.badRequest("screening.policy", policy.id() + " needs a clean subset to calibrate"
          + " screening on (set clean_subset_path, or the policy observe or off)");
    }
    boolean pair = switch (spec.inputKind()) {
      case AUTO -> head != null && head.pair();
      case SINGLE -> false;
      case PAIR -> true;
    };
    if (head != null && head.pair() != pair) {
      throw ServiceException.badRequest("input_kind", "is " + spec.inputKind() + " but the clean subset has "
          + (head.pair() ? "two text columns (PAIR)" : "one text column (SINGLE)"));
    }
    CheckpointInfo info;
    try {
      info = backend.inspect(ckpt);
    } catch (ServiceException e) {
      throw e;
    } catch (RuntimeException e) {
      throw ServiceException.badRequest("checkpoint_path", "cannot read checkpoint '" + spec.checkpoint() + "': "
          + e.getMessage());
    }
    String base = spec.baseModel() != null ? spec.baseModel()
        : info.baseModelId() != null && !info.baseModelId().isBlank() ? info.baseModelId()
        : ServerConfig.DEFAULT_BASE_MODEL;
    if (!backend.knownPretrained(base)) { // a checkpoint folder: only inside the models root
      Path baseDir = modelsRoot.resolve("base_model", base);
      modelsRoot.requireContained("base_model", baseDir);
      base = baseDir.toString();
    }
    ModelEntry entry = new ModelEntry(spec, ckpt, clean, unlabelled, pair, base, info.weightsSha256(), info.labels());
    entry.batcher = Batcher.start(spec.name(), spec.batching(), rows -> runBatch(entry, rows), inferencePool, ticker,
        rows -> metrics.batch(entry.name, rows));
    entry.working.set(true);
    synchronized (this) {
      requireOpen(spec.name());
      if (entries.getIfPresent(spec.name()) != null && !replace) {
        entry.batcher.close();
        throw ServiceException.modelExists(spec.name());
      }
      entries.put(spec.name(), entry); // a replaced entry is closed by the removal listener
    }
    metrics.registered(spec.name());
    setState(entry, ModelState.LOADING);
    String baseId = base;
    LOG.info(() -> "model " + spec.name() + ": registered " + spec.checkpoint() + " (suspect weights "
        + info.weightsSha256() + "), " + (spec.allowUnpurified() ? "serving UNPURIFIED as configured"
        : "purifying against " + baseId));
    try {
      workPool.execute(() -> {
        try {
          load(entry, spec, false, Progress.Sink.NONE, false);
        } catch (RuntimeException e) {
          // recorded in the entry by load()
        }
      });
    } catch (RuntimeException e) {
      entry.working.set(false);
      fail(entry, "the server is shutting down");
    }
    return entry.view();
  }

  /** Removes a model: health NOT_SERVING, queued requests UNAVAILABLE, weights unloaded. */
  public ModelView unregister(String name) {
    ModelEntry e = require(name);
    ModelView v = e.view();
    entries.asMap().remove(name, e);
    entries.cleanUp();
    listener.removed(name);
    metrics.removed(name);
    LOG.info(() -> "model " + name + ": unregistered");
    return v;
  }

  public ModelView get(String name) {
    return require(name).view();
  }

  public List<ModelView> list() {
    return entries.asMap().values().stream().map(ModelEntry::view)
        .sorted(Comparator.comparing(v -> v.spec().name())).toList();
  }

  /** True when at least one model is registered and every registered model serves. */
  public boolean allServing() {
    var all = entries.asMap().values();
    return !all.isEmpty() && all.stream().allMatch(e -> e.serving.get() != null);
  }

  public boolean isRegistered(String name) {
    return name != null && entries.getIfPresent(name) != null;
  }

  public boolean isServing(String name) {
    ModelEntry e = entries.getIfPresent(name);
    return e != null && e.serving.get() != null;
  }

  /** Queue depth per model, for metrics. */
  public Map<String, Integer> queueDepths() {
    Map<String, Integer> out = new LinkedHashMap<>();
    entries.asMap().forEach((k, v) -> out.put(k, v.batcher == null ? 0 : v.batcher.queueDepth()));
    return out;
  }

  public long suspectedTriggerRequests(String name) {
    return require(name).suspectedRequests.get();
  }

  /** The request-time screening of a model's served weights, with its counts. */
  public ScreeningReport screening(String name) {
    ModelEntry e = require(name);
    ServingModel m = e.serving.get();
    return new ScreeningReport(m == null ? e.spec.screening().policy() : m.policy(),
        m == null ? null : m.screening().orElse(null), e.screenedInputs.get(), e.flaggedInputs.get(),
        m == null ? null : m.screeningUnavailable());
  }

  /**
   * Classifies rows with a model through its batcher.
   *
   * @param pairs whether the caller sent pairs (checked against the model's input kind)
   * @param deadlineNanos {@link Ticker} time after which the request is dropped; {@link Long#MAX_VALUE} for none
   * @return completes exceptionally with a {@link ServiceException} on every failure
   */
  public CompletableFuture<Classification> classify(String name, List<TextRow> rows, boolean pairs,
      long deadlineNanos) {
    try {
      ModelEntry e = require(name);
      ServingModel m = e.serving.get();
      if (m == null) {
        if (e.state == ModelState.FAILED) {
          throw ServiceException.modelFailed(name, e.failureReason);
        }
        throw ServiceException.notReady(name, e.state.name().toLowerCase(Locale.ROOT), RETRY_AFTER);
      }
      if (pairs != e.pair) {
        throw ServiceException.wrongInputKind(name, e.pair ? "sentence-pair (pairs)" : "single-text (texts)",
            pairs ? "pairs" : "texts");
      }
      Set<String> suspected = e.suspectedSet;
      if (!suspected.isEmpty() && rows.stream().anyMatch(r -> AttackProbe.containsAny(r.textA(), suspected)
          || AttackProbe.containsAny(r.textB(), suspected))) {
        e.suspectedRequests.incrementAndGet();
        metrics.suspectedTriggerRequest(name);
      }
      return e.batcher.submit(rows, deadlineNanos).thenApply(out -> {
        ServingModel by = out.get(0).model();
        List<Scores> scores = out.stream().map(ModelEntry.Scored::scores).toList();
        screened(e, by, scores, pairs);
        return new Classification(scores, by.weightsSha256(), by.labels());
      });
    } catch (ServiceException ex) {
      return CompletableFuture.failedFuture(ex);
    }
  }

  /**
   * Counts a request's screening verdicts (metrics, probe report) and applies the reject policy: the whole request
   * fails FAILED_PRECONDITION naming every flagged input. Strip was applied in the batch.
   */
  private void screened(ModelEntry e, ServingModel by, List<Scores> scores, boolean pairs) {
    ScreenPolicy policy = by.policy();
    if (policy == ScreenPolicy.OFF) {
      return;
    }
    String action = switch (policy) {
      case REJECT -> "rejected";
      case STRIP -> "stripped";
      default -> "observed";
    };
    List<ServiceException.FlaggedInput> flagged = new ArrayList<>();
    for (int i = 0; i < scores.size(); i++) {
      Suspicion s = scores.get(i).suspicion();
      if (s == null) {
        continue;
      }
      e.screenedInputs.incrementAndGet();
      metrics.screened(e.name, s.score(), s.threshold());
      if (s.flagged()) {
        e.flaggedInputs.incrementAndGet();
        metrics.flagged(e.name, action, s.tokens().stream().map(by::metricToken).toList());
        flagged.add(new ServiceException.FlaggedInput((pairs ? "pairs[" : "texts[") + i + "]", i, s.score(),
            s.threshold(), s.tokens()));
      }
    }
    if (policy == ScreenPolicy.REJECT && !flagged.isEmpty()) {
      throw ServiceException.suspectedTrigger(e.name, scores.size(), flagged);
    }
  }

  /**
   * Re-purifies a model while its current weights keep serving, then swaps atomically. On failure the old weights
   * keep serving and the reason is recorded (GetModel).
   *
   * @param override defence settings laid over the model's current ones (may be empty)
   */
  public CompletableFuture<ModelView> defend(String name, ObjectNode override, boolean ignoreCache,
      Progress.Sink sink) {
    ModelEntry e = require(name);
    if (e.cleanFile == null) {
      throw ServiceException.badRequest("name", "model '" + name + "' was registered without a clean subset;"
          + " register it again with clean_subset_path to defend it");
    }
    ModelSpec spec = e.spec.withDefence(normalizeDefence(Json.merge(e.spec.defence(), override)));
    if (!e.working.compareAndSet(false, true)) {
      throw ServiceException.busy(name, "a load or Defend is already running; wait for it (GetModel)");
    }
    setState(e, ModelState.PURIFYING);
    try {
      return CompletableFuture.supplyAsync(() -> load(e, spec, ignoreCache, sink, true), workPool);
    } catch (RuntimeException ex) {
      e.working.set(false);
      setState(e, e.serving.get() != null ? ModelState.SERVING : ModelState.FAILED);
      throw ServiceException.shuttingDown(name);
    }
  }

  /** The last probe report, or a fresh one when {@code refresh} or none ran yet. */
  public CompletableFuture<ProbeReport> probe(String name, boolean refresh) {
    ModelEntry e = require(name);
    ProbeReport last = e.probe;
    if (last != null && !refresh) {
      return CompletableFuture.completedFuture(last);
    }
    return CompletableFuture.supplyAsync(() -> runProbe(e), workPool);
  }

  private ModelView load(ModelEntry e, ModelSpec spec, boolean ignoreCache, Progress.Sink sink, boolean defend) {
    try {
      sink.accept(Progress.of("load", 1, "reading " + spec.checkpoint()));
      ServingModel next;
      ObjectNode report = e.report;
      List<String> tokens = e.suspectedTokens;
      boolean fromCache = e.fromCache;
      if (spec.allowUnpurified() && !defend) {
        next = open(e, spec, e.checkpointDir, e.suspectSha256, false, null);
        LOG.warning(() -> "model " + e.name + ": serving UNPURIFIED weights " + e.suspectSha256
            + " (allow_unpurified is set)");
      } else {
        if (e.cleanFile == null) {
          throw new IllegalStateException("no clean subset to purify with");
        }
        sink.accept(Progress.of("load", 2, "hashing inputs for the purified-weight cache"));
        String key = CacheKey.of(backend, e.checkpointDir, e.baseModel, e.cleanFile, e.unlabelledFile, spec.defence())
            .hex();
        PurifiedCache.Obtained got = cache.obtain(key, ignoreCache, work -> {
          setState(e, ModelState.PURIFYING);
          if (!purifySlots.tryAcquire()) {
            sink.accept(Progress.of("queued", 3, "waiting for another purification to finish"));
            purifySlots.acquire();
          }
          try {
            PurifyOutcome out = backend.purify(new PurifyJob(e.checkpointDir, e.baseModel, e.cleanFile,
                e.unlabelledFile, spec.defence(), work),
                p -> sink.accept(new Progress(p.stage(), 5 + 0.8 * p.percent(), p.message(), p.done(), p.total(),
                    p.loss(), p.etaMillis())));
            sink.accept(Progress.of("cache", 86, "storing purified weights (" + key.substring(0, 12) + ")"));
            return out;
          } finally {
            purifySlots.release();
          }
        }, waiting -> {
          setState(e, ModelState.PURIFYING);
          sink.accept(Progress.of("waiting", 4, waiting));
        });
        PurifiedCache.Entry ce = got.entry();
        fromCache = !got.built();
        if (fromCache) {
          sink.accept(Progress.of("cache", 85, "purified weights found in the cache (" + key.substring(0, 12) + ")"));
        }
        String refused = utilityGate(spec.defence(), ce.report());
        if (refused != null) {
          metrics.utilityGateRefused(e.name);
          throw ServiceException.purificationFailed(e.name, refused, null);
        }
        report = ce.report();
        tokens = ce.suspectedTokens();
        sink.accept(Progress.of("load", 90, "opening purified weights " + ce.weightsSha256().substring(0, 12)));
        next = open(e, spec, ce.dir(), ce.weightsSha256(), true, key);
      }
      synchronized (e) {
        if (e.removed || closed) {
          next.retire();
          throw ServiceException.shuttingDown(e.name);
        }
        e.spec = spec;
        e.report = report;
        e.suspectedTokens = tokens;
        e.suspectedSet = tokens.stream().map(t -> t.toLowerCase(Locale.ROOT)).collect(Collectors.toUnmodifiableSet());
        e.fromCache = fromCache;
        e.failureReason = null;
        ServingModel old = e.serving.getAndSet(next);
        if (old != null) {
          old.retire();
        }
      }
      e.working.set(false);
      setState(e, ModelState.SERVING);
      metrics.served(e.name, next.weightsSha256(), next.purified());
      metrics.screenThreshold(e.name, next.screening().map(ScreenCalibration::signal).orElse(null),
          next.screening().map(ScreenCalibration::threshold).orElse(0.0));
      ModelView v = e.view();
      sink.accept(Progress.of("swap", 100, "serving " + next.weightsSha256().substring(0, 12)
          + (next.purified() ? " (purified" + (v.fromCache() ? ", from cache)" : ")") : " (UNPURIFIED)")));
      LOG.info(() -> "model " + e.name + ": SERVING " + next.weightsSha256() + (next.purified() ? " purified" : "")
          + (v.fromCache() ? " from cache" : ""));
      schedule(() -> runProbe(e));
      return v;
    } catch (Throwable t) {
      String reason = describe(t);
      e.working.set(false);
      if (e.removed || closed) {
        throw t instanceof ServiceException se ? se : ServiceException.shuttingDown(e.name);
      }
      LOG.log(Level.WARNING, "model " + e.name + ": " + (defend ? "Defend" : "loading") + " failed: " + reason, t);
      fail(e, reason);
      if (t instanceof ServiceException se && se.reason() != ErrorReason.INFERENCE_FAILED) {
        throw se;
      }
      throw ServiceException.purificationFailed(e.name, reason, t);
    }
  }

  /**
   * Opens weights for serving, screened as the spec says. Screening is calibrated on the clean subset against the
   * registered (suspect) checkpoint's embeddings. When it cannot be (no clean subset, calibration failed), observe
   * serves unscreened and records why; reject and strip fail the load, since they were asked to enforce.
   */
  private ServingModel open(ModelEntry e, ModelSpec spec, Path dir, String sha256, boolean purified, String key) {
    ScreeningSettings s = spec.screening();
    if (s.policy() == ScreenPolicy.OFF) {
      return new ServingModel(backend.open(dir), sha256, purified, key, clock.instant(), ScreenPolicy.OFF, null);
    }
    String why = "no clean subset to calibrate on";
    if (e.cleanFile != null) {
      var wf = spec.defence().get("word_frequencies");
      ScreenJob job = new ScreenJob(e.checkpointDir, e.baseModel, e.cleanFile,
          wf == null || wf.isNull() ? null : Path.of(wf.asText()), s.signal(), s.falseFlagRate());
      try {
        ServingModel m = new ServingModel(backend.open(dir, job), sha256, purified, key, clock.instant(), s.policy(),
            null);
        m.screening().ifPresent(c -> LOG.info(() -> String.format(Locale.ROOT, "model %s: screening (%s) calibrated"
            + " on %d clean rows: %s threshold %.4g, %.3f of them flagged (target %.3f)", e.name, s.policy().id(),
            c.rows(), c.signal(), c.threshold(), c.cleanFlagRate(), c.falseFlagRate())));
        return m;
      } catch (RuntimeException ex) {
        why = "calibration failed: " + describe(ex);
        if (s.policy() != ScreenPolicy.OBSERVE) {
          throw new IllegalStateException("screening policy " + s.policy().id() + ": " + why, ex);
        }
        LOG.log(Level.FINE, "screening calibration failed", ex);
      }
    }
    if (s.policy() != ScreenPolicy.OBSERVE) {
      throw new IllegalStateException("screening policy " + s.policy().id() + ": " + why);
    }
    String reason = why;
    LOG.warning(() -> "model " + e.name + ": serving without screening (" + reason + ")");
    return new ServingModel(backend.open(dir), sha256, purified, key, clock.instant(), ScreenPolicy.OFF, reason);
  }

  /**
   * The utility gate: purified weights may replace the suspect's only if their clean accuracy (the defence
   * report's {@code clean_accuracy.after}, measured on the clean rows held back from fine-tuning) is at least the
   * suspect's ({@code clean_accuracy.before}) minus the defence's {@code margin}.
   *
   * @return null when the swap may happen (also when the report carries no accuracy pair to compare), else why not
   */
  static String utilityGate(ObjectNode defence, ObjectNode report) {
    var acc = report == null ? null : report.path("clean_accuracy");
    if (acc == null || !acc.path("before").isNumber() || !acc.path("after").isNumber()) {
      return null;
    }
    double before = acc.get("before").asDouble();
    double after = acc.get("after").asDouble();
    if (Double.isNaN(before) || Double.isNaN(after)) {
      return null; // not measured
    }
    double margin = defence != null && defence.path("margin").isNumber() ? defence.get("margin").asDouble()
        : DEFAULT_UTILITY_MARGIN;
    if (after >= before - margin - 1e-9) {
      return null;
    }
    var rows = acc.path("rows");
    String on = rows.isNumber() ? rows.asText() + " held-back clean rows" : rows.asText("the held-back clean rows");
    return String.format(Locale.ROOT, "utility gate: the purified model's clean accuracy %.3f is more than the"
        + " margin %.3f below the suspect's %.3f (on %s); the swap was refused, retry with other defence settings"
        + " (a larger rho keeps more of the fine-tuned weights)", after, margin, before, on);
  }

  /** Margin of the utility gate when the defence settings name none (purify's DefenceSettings default). */
  static final double DEFAULT_UTILITY_MARGIN = 0.05;

  /** Full canonical defence settings; a word-frequency file must lie inside the data root. */
  private ObjectNode normalizeDefence(ObjectNode d) {
    ObjectNode n = d.deepCopy();
    var wf = n.get("word_frequencies");
    if (wf != null && !wf.isNull()) {
      n.put("word_frequencies", dataRoot.resolve("defence.word_frequencies", wf.asText()).toString());
    }
    try {
      return Json.canonical(backend.normalizeSettings(n));
    } catch (IllegalArgumentException ex) {
      throw ServiceException.badRequest("defence", ex.getMessage());
    }
  }

  private void fail(ModelEntry e, String reason) {
    e.failureReason = reason;
    setState(e, e.serving.get() != null ? ModelState.SERVING : ModelState.FAILED);
  }

  private ProbeReport runProbe(ModelEntry e) {
    ServingModel m = e.serving.get();
    if (m == null || !m.tryAcquire()) {
      throw ServiceException.notReady(e.name, e.state.name().toLowerCase(Locale.ROOT), RETRY_AFTER);
    }
    try {
      List<TextRow> rows = e.cleanFile == null ? List.of() : CleanSubset.read(e.cleanFile, config.probeRows()).rows();
      if (rows.isEmpty()) {
        ProbeReport r = new ProbeReport(m.weightsSha256(), 0, AttackProbe.plan(e.suspectedTokens), clock.instant());
        e.probe = r;
        return r;
      }
      Predictor before = m.purified() ? backend.open(e.checkpointDir) : m.predictor();
      try {
        ProbeReport r = probe.run(rows, e.suspectedTokens, before, m.predictor(), m.weightsSha256());
        for (TokenProbe t : r.tokens()) {
          metrics.flipRate(e.name, t.token(), t.suspected(), t.flipRateBefore(), t.flipRateAfter());
        }
        e.probe = r;
        return r;
      } finally {
        if (before != m.predictor()) {
          before.close();
        }
      }
    } finally {
      m.release();
    }
  }

  private List<ModelEntry.Scored> runBatch(ModelEntry e, List<TextRow> rows) {
    for (;;) {
      ServingModel m = e.serving.get();
      if (m == null) {
        throw ServiceException.shuttingDown(e.name);
      }
      if (!m.tryAcquire()) {
        continue; // swapped and closed meanwhile: read the new one
      }
      try {
        List<Scores> scores = m.predictor().predict(rows);
        if (m.policy() == ScreenPolicy.STRIP) {
          scores = strip(m, rows, scores);
        }
        List<ModelEntry.Scored> out = new ArrayList<>(scores.size());
        for (Scores s : scores) {
          out.add(new ModelEntry.Scored(s, m));
        }
        return out;
      } finally {
        m.release();
      }
    }
  }

  /** The strip policy: flagged rows lose the words holding their tokens and are classified again, in one batch. */
  private static List<Scores> strip(ServingModel m, List<TextRow> rows, List<Scores> scores) {
    List<Integer> at = new ArrayList<>();
    List<TextRow> stripped = new ArrayList<>();
    for (int i = 0; i < scores.size(); i++) {
      Suspicion s = scores.get(i).suspicion();
      if (s != null && s.flagged()) {
        at.add(i);
        stripped.add(m.predictor().strip(rows.get(i), s.tokens()));
      }
    }
    if (at.isEmpty()) {
      return scores;
    }
    List<Scores> again = m.predictor().predict(stripped);
    List<Scores> out = new ArrayList<>(scores);
    for (int k = 0; k < at.size(); k++) {
      int i = at.get(k);
      Scores a = again.get(k);
      out.set(i, new Scores(a.label(), a.probabilities(), scores.get(i).suspicion().withAction(
          Suspicion.Action.STRIPPED)));
    }
    return out;
  }

  private void schedule(Runnable r) {
    try {
      workPool.execute(() -> {
        try {
          r.run();
        } catch (RuntimeException ex) {
          LOG.log(Level.FINE, "background task failed", ex);
          LOG.warning("probe failed: " + describe(ex));
        }
      });
    } catch (RuntimeException ex) {
      // shutting down
    }
  }

  private void setState(ModelEntry e, ModelState s) {
    e.state = s;
    metrics.state(e.name, s.name());
    if (!e.removed) {
      listener.changed(e.name, s, e.serving.get() != null);
    }
  }

  private ModelEntry require(String name) {
    if (name == null || name.isBlank()) {
      throw ServiceException.badRequest("model", "must name a registered model");
    }
    ModelEntry e = entries.getIfPresent(name);
    if (e == null) {
      throw ServiceException.modelNotFound(name);
    }
    return e;
  }

  private void requireOpen(String name) {
    if (closed) {
      throw ServiceException.shuttingDown(name);
    }
  }

  static String describe(Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c.getClass() == RuntimeException.class) && c.getCause() != null) {
      c = c.getCause();
    }
    String m = c.getMessage();
    return c instanceof ServiceException ? m : c.getClass().getSimpleName() + (m == null ? "" : ": " + m);
  }

  /** Fails every queued request UNAVAILABLE and unloads every model. Pools are the caller's to stop. */
  @Override
  public void close() {
    synchronized (this) {
      closed = true;
    }
    entries.asMap().keySet().forEach(listener::removed);
    entries.invalidateAll();
    entries.cleanUp();
  }
}

package dev.finemix.server.registry;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.defence.DefenceSettings;
import dev.finemix.server.batching.Batcher;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.cache.PurifiedCache;
import dev.finemix.server.config.Json;
import dev.finemix.server.config.ModelSpec;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.errors.ErrorReason;
import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.loading.InputReader;
import dev.finemix.server.loading.LoadInputs;
import dev.finemix.server.loading.Loaded;
import dev.finemix.server.loading.Loader;
import dev.finemix.server.loading.ModelBackend;
import dev.finemix.server.loading.Progress;
import dev.finemix.server.loading.ScreenCalibration;
import dev.finemix.server.loading.Scores;
import dev.finemix.server.loading.Suspect;
import dev.finemix.server.loading.TextRow;
import dev.finemix.server.metrics.ServerMetrics;
import dev.finemix.server.probe.ProbeReport;
import dev.finemix.server.probe.ProbeRunner;
import dev.finemix.server.screening.RequestScreening;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.function.IntFunction;
import java.util.function.Supplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * What the gRPC services ask of the models, over the {@link Registry} (names and states), the {@link Loader}
 * (inputs read once: hash, cache, purify, gate, open), {@link RequestScreening} and the {@link ProbeRunner}:
 * registration (validated at once, loaded and purified in the background), Classify through each model's batcher,
 * Defend (re-purify while the old weights serve, then one swap), probes, removal.
 */
public final class ModelManager implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(ModelManager.class.getName());
  static final Duration RETRY_AFTER = Duration.ofSeconds(1);

  private final ServerConfig config;
  private final ModelBackend backend;
  private final ServerMetrics metrics;
  private final Executor inferencePool;
  /** Loads, purifications, probes; the loader limits purifications to purify_threads at once. */
  private final ExecutorService workPool;
  private final Ticker ticker;
  private final Clock clock;
  private final InputReader reader;
  private final Registry registry;
  private final Loader loader;
  private final ProbeRunner probes;

  public ModelManager(ServerConfig config, ModelBackend backend, PurifiedCache cache, ServerMetrics metrics,
      Executor inferencePool, ExecutorService workPool, Ticker ticker, Clock clock) {
    this.config = Objects.requireNonNull(config, "config");
    this.backend = Objects.requireNonNull(backend, "backend");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.inferencePool = Objects.requireNonNull(inferencePool, "inferencePool");
    this.workPool = Objects.requireNonNull(workPool, "workPool");
    this.ticker = Objects.requireNonNull(ticker, "ticker");
    this.clock = Objects.requireNonNull(clock, "clock");
    this.reader = new InputReader(backend, config.modelsRoot(), config.dataRoot());
    this.registry = new Registry(metrics);
    this.loader = new Loader(backend, cache, config.purifyThreads());
    this.probes = new ProbeRunner(backend, metrics, clock);
  }

  public ServerConfig config() {
    return config;
  }

  /** Tells {@code l} of every state change and removal from now on (health, tests), on the changing thread. */
  public void addListener(StateListener l) {
    registry.addListener(l);
  }

  /**
   * Validates a model and reads its inputs ({@link InputReader}), then registers it; loading and purification
   * continue in the background.
   *
   * @throws ServiceException INVALID_ARGUMENT for bad paths, settings, subsets or checkpoints, ALREADY_EXISTS
   *     without replace, FAILED_PRECONDITION for allow_unpurified on a server that does not permit it
   */
  public ModelView register(ModelSpec requested, boolean replace) {
    if (registry.closed()) {
      throw ServiceException.shuttingDown(requested.name());
    }
    if (requested.allowUnpurified() && !config.allowUnpurifiedModels()) {
      throw ServiceException.unpurifiedNotAllowed(requested.name());
    }
    InputReader.Registration r = reader.read(requested);
    ModelSpec spec = r.spec();
    LoadInputs in = r.inputs();
    ModelEntry entry = new ModelEntry(r, new RequestScreening(spec.name(), metrics), e -> Batcher.start(spec.name(),
        spec.batching(), rows -> runBatch(e, rows), inferencePool, ticker, rows -> metrics.batch(spec.name(), rows)));
    registry.add(entry, replace);
    LOG.info(() -> "model " + spec.name() + ": registered " + spec.checkpoint() + " (suspect weights "
        + entry.suspectSha256 + "), " + (spec.allowUnpurified() ? "serving UNPURIFIED as configured"
        : String.format(Locale.ROOT, "purifying against %s (its weights %.3g from the base's)", entry.baseModel,
            in.baseDistance())));
    try {
      workPool.execute(() -> {
        try {
          load(entry, spec, () -> in, false, Progress.Sink.NONE, false);
        } catch (RuntimeException e) {
          // recorded in the entry by load()
        }
      });
    } catch (RuntimeException e) {
      registry.fail(entry, "the server is shutting down");
    }
    return entry.view();
  }

  /** Removes a model: health NOT_SERVING, queued requests UNAVAILABLE, weights unloaded. */
  public ModelView unregister(String name) {
    ModelEntry e = registry.require(name);
    ModelView v = e.view();
    registry.remove(e);
    LOG.info(() -> "model " + name + ": unregistered");
    return v;
  }

  public ModelView get(String name) {
    return registry.require(name).view();
  }

  public List<ModelView> list() {
    return registry.views();
  }

  /** True when at least one model is registered and every registered model serves. */
  public boolean allServing() {
    var all = registry.all();
    return !all.isEmpty() && all.stream().allMatch(e -> e.serving() != null);
  }

  public boolean isRegistered(String name) {
    return registry.find(name) != null;
  }

  public boolean isServing(String name) {
    ModelEntry e = registry.find(name);
    return e != null && e.serving() != null;
  }

  /** Queue depth per model, for metrics. */
  public Map<String, Integer> queueDepths() {
    Map<String, Integer> out = new LinkedHashMap<>();
    registry.all().forEach(e -> out.put(e.name, e.batcher.queueDepth()));
    return out;
  }

  public long suspectedTriggerRequests(String name) {
    return registry.require(name).screening.suspectedRequests();
  }

  /** The request-time screening of a model's served weights, with its counts. */
  public ScreeningReport screening(String name) {
    ModelEntry e = registry.require(name);
    ServingModel m = e.serving();
    return new ScreeningReport(m == null ? e.spec.screening().policy() : m.policy(),
        m == null ? null : m.screening().orElse(null), e.screening.screenedInputs(), e.screening.flaggedInputs(),
        m == null ? null : m.screeningUnavailable());
  }

  /** {@link #classify(String, List, boolean, IntFunction, long)} naming rows as Classify does: texts[i], pairs[i]. */
  public CompletableFuture<Classification> classify(String name, List<TextRow> rows, boolean pairs,
      long deadlineNanos) {
    return classify(name, rows, pairs, i -> (pairs ? "pairs[" : "texts[") + i + "]", deadlineNanos);
  }

  /**
   * Classifies rows with a model through its batcher.
   *
   * @param pairs whether the caller sent pairs (checked against the model's input kind)
   * @param field the request field of row i, named in screening rejections
   * @param deadlineNanos {@link Ticker} time after which the request is dropped; {@link Long#MAX_VALUE} for none
   * @return completes exceptionally with a {@link ServiceException} on every failure
   */
  public CompletableFuture<Classification> classify(String name, List<TextRow> rows, boolean pairs,
      IntFunction<String> field, long deadlineNanos) {
    try {
      ModelEntry e = registry.require(name);
      ModelEntry.Status s = e.status.get();
      ServingModel m = s.serving();
      if (m == null) {
        if (s.state() == ModelState.FAILED) {
          throw ServiceException.modelFailed(name, s.failureReason());
        }
        throw ServiceException.notReady(name, s.state().name().toLowerCase(Locale.ROOT), RETRY_AFTER);
      }
      if (pairs != e.pair) {
        throw ServiceException.wrongInputKind(name, e.pair ? "sentence-pair (pairs)" : "single-text (texts)",
            pairs ? "pairs" : "texts");
      }
      e.screening.countSuspected(rows, m.suspectedWords());
      return e.batcher.submit(rows, deadlineNanos).thenApply(out -> {
        ServingModel by = out.get(0).model();
        List<Scores> scores = out.stream().map(ModelEntry.Scored::scores).toList();
        e.screening.afterBatch(by.policy(), by.screening().orElse(null), scores, field);
        return new Classification(scores, by.weightsSha256(), by.labels());
      });
    } catch (ServiceException ex) {
      return CompletableFuture.failedFuture(ex);
    }
  }

  /**
   * Re-purifies a model while its current weights keep serving, then swaps them in one write. On failure the old
   * weights keep serving and the reason is recorded (GetModel).
   *
   * @param override defence settings laid over the model's current ones (may be empty)
   */
  public CompletableFuture<ModelView> defend(String name, ObjectNode override, boolean ignoreCache,
      Progress.Sink sink) {
    ModelEntry e = registry.require(name);
    if (e.cleanFile == null) {
      throw ServiceException.badRequest("name", "model '" + name + "' was registered without a clean subset;"
          + " register it again with clean_subset_path to defend it");
    }
    ModelSpec current = e.currentSpec();
    DefenceSettings settings = reader.settings(Json.merge(current.defence(), override));
    ModelSpec spec = current.withDefence(Json.canonical(settings.toJson()));
    if (!registry.claim(e)) {
      throw ServiceException.busy(name, "a load or Defend is already running; wait for it (GetModel)");
    }
    try {
      return CompletableFuture.supplyAsync(() -> load(e, spec, () -> {
        sink.accept(Progress.of("load", 1, "reading " + spec.checkpoint()));
        return reader.reread(e.checkpointDir, e.cleanFile, e.unlabelledFile, e.baseModel, settings);
      }, ignoreCache, sink, true), workPool);
    } catch (RuntimeException ex) {
      registry.release(e);
      throw ServiceException.shuttingDown(name);
    }
  }

  /** The last probe report, or a fresh one when {@code refresh} or none ran yet. */
  public CompletableFuture<ProbeReport> probe(String name, boolean refresh) {
    ModelEntry e = registry.require(name);
    ProbeReport last = e.lastProbe.get();
    if (last != null && !refresh) {
      return CompletableFuture.completedFuture(last);
    }
    return CompletableFuture.supplyAsync(() -> probe(e, () -> backend.read(e.checkpointDir),
        e.cleanFile == null ? List.of() : LoadInputs.rows(e.cleanFile, config.probeRows())), workPool);
  }

  /**
   * One load of {@code e}: read the inputs (unless given read), load, swap in one write, then probe the new weights
   * on the same inputs. The reason of a failure is recorded in the entry; the old weights, if any, keep serving.
   */
  private ModelView load(ModelEntry e, ModelSpec spec, Supplier<LoadInputs> inputs, boolean rebuild,
      Progress.Sink sink, boolean defend) {
    try {
      LoadInputs in = inputs.get();
      Loaded loaded = loader.load(e.name, in, spec.screening(), spec.precision(), spec.allowUnpurified() && !defend,
          rebuild, sink,
          new Loader.Listener() {
            @Override
            public void purifying() {
              registry.setState(e, ModelState.PURIFYING);
            }

            @Override
            public void refused(String why) {
              metrics.utilityGateRefused(e.name);
            }
          });
      ServingModel next = new ServingModel(spec, loaded, clock.instant());
      if (!registry.serve(e, next)) {
        throw ServiceException.shuttingDown(e.name);
      }
      metrics.served(e.name, next.weightsSha256(), next.purified());
      metrics.screenThreshold(e.name, next.screening().map(ScreenCalibration::signal).orElse(null),
          next.screening().map(ScreenCalibration::threshold).orElse(0.0));
      ModelView v = e.view();
      sink.accept(Progress.of("swap", 100, "serving " + next.weightsSha256().substring(0, 12)
          + (next.purified() ? " (purified" + (next.fromCache() ? ", from cache)" : ")") : " (UNPURIFIED)")));
      LOG.info(() -> "model " + e.name + ": SERVING " + next.weightsSha256() + (next.purified() ? " purified" : "")
          + (next.fromCache() ? " from cache" : ""));
      schedule(() -> probe(e, in::suspect, in.cleanRows(config.probeRows())));
      return v;
    } catch (Throwable t) {
      String reason = Loader.describe(t);
      if (!registry.fail(e, reason)) { // removed or shutting down meanwhile
        throw t instanceof ServiceException se ? se : ServiceException.shuttingDown(e.name);
      }
      LOG.log(Level.WARNING, "model " + e.name + ": " + (defend ? "Defend" : "loading") + " failed: " + reason, t);
      if (t instanceof ServiceException se && se.reason() != ErrorReason.INFERENCE_FAILED) {
        throw se;
      }
      throw ServiceException.purificationFailed(e.name, reason, t);
    }
  }

  /** Probes the weights serving now; the report becomes the model's last. */
  private ProbeReport probe(ModelEntry e, Supplier<Suspect> suspect, List<TextRow> rows) {
    ModelEntry.Status s = e.status.get();
    ServingModel m = s.serving();
    if (m == null || !m.tryAcquire()) {
      throw ServiceException.notReady(e.name, s.state().name().toLowerCase(Locale.ROOT), RETRY_AFTER);
    }
    try {
      ProbeReport r = probes.run(e.name, m.predictor(), m.weightsSha256(), m.purified(), suspect, rows,
          m.suspectedTokens());
      e.lastProbe.set(r);
      return r;
    } finally {
      m.release();
    }
  }

  private List<ModelEntry.Scored> runBatch(ModelEntry e, List<TextRow> rows) {
    for (;;) {
      ServingModel m = e.serving();
      if (m == null) {
        throw ServiceException.shuttingDown(e.name);
      }
      if (!m.tryAcquire()) {
        continue; // swapped and closed meanwhile: read the new one
      }
      try {
        List<Scores> scores = RequestScreening.inBatch(m.policy(), m.predictor(), rows, m.predictor().predict(rows));
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

  private void schedule(Runnable r) {
    try {
      workPool.execute(() -> {
        try {
          r.run();
        } catch (RuntimeException ex) {
          LOG.log(Level.FINE, "background task failed", ex);
          LOG.warning("probe failed: " + Loader.describe(ex));
        }
      });
    } catch (RuntimeException ex) {
      // shutting down
    }
  }

  /** Fails every queued request UNAVAILABLE and unloads every model. Pools are the caller's to stop. */
  @Override
  public void close() {
    registry.close();
  }
}

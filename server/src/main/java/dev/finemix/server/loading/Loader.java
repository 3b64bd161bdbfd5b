package dev.finemix.server.loading;

import dev.finemix.purify.defence.DefenceReport;
import dev.finemix.purify.onnx.Precision;
import dev.finemix.server.cache.PurifiedCache;
import dev.finemix.server.config.ScreenPolicy;
import dev.finemix.server.config.ScreeningSettings;
import dev.finemix.server.errors.ServiceException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Semaphore;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Turns a model's inputs, read once, into weights ready to serve: hash -> cache -> purify -> gate -> open. At most
 * {@code purifySlots} purifications run at once; loads from the cache never wait for one.
 */
public final class Loader {
  private static final Logger LOG = Logger.getLogger(Loader.class.getName());

  /** What a load tells its caller as it goes; called on the loading thread. */
  public interface Listener {
    Listener NONE = new Listener() { };

    /** The load purifies, or waits for another process purifying the same key (the model is PURIFYING). */
    default void purifying() { }

    /** The utility gate refused the purified weights; the load then fails with {@code why}. */
    default void refused(String why) { }
  }

  /**
   * The purified checkpoint for one set of inputs, from the cache.
   *
   * @param key the cache key (64 hex digits)
   * @param dir the verified entry's checkpoint folder
   * @param fromCache the entry was there already (or another process wrote it) rather than purified by this call
   */
  public record Purified(String key, Path dir, String weightsSha256, DefenceReport report,
      List<String> suspectedTokens, boolean fromCache) {
  }

  private final ModelBackend backend;
  private final PurifiedCache cache;
  private final Semaphore purifySlots;

  public Loader(ModelBackend backend, PurifiedCache cache, int purifySlots) {
    this.backend = Objects.requireNonNull(backend, "backend");
    this.cache = Objects.requireNonNull(cache, "cache");
    this.purifySlots = new Semaphore(purifySlots, true);
  }

  /**
   * The weights to serve for {@code model}: the suspect itself when {@code unpurified}, else the purified weights
   * that pass the utility gate. Screened as {@code screening} says (see {@link #open}).
   *
   * @param rebuild purify even when the cache holds the entry (Defend with ignore_cache)
   * @throws ServiceException PURIFICATION_FAILED when the utility gate refuses
   */
  public Loaded load(String model, LoadInputs in, ScreeningSettings screening, boolean unpurified, boolean rebuild,
      Progress.Sink sink, Listener listener) throws Exception {
    return load(model, in, screening, Precision.FP32, unpurified, rebuild, sink, listener);
  }

  /**
   * {@link #load} serving the purified weights at {@code precision}: below fp32 the artefact comes from the cache or
   * is built ({@link LowPrecision}) and must agree with fp32 on the clean rows (unscreened; the spec ensures it).
   *
   * @throws ServiceException PURIFICATION_FAILED when the utility gate or the agreement check refuses
   */
  public Loaded load(String model, LoadInputs in, ScreeningSettings screening, Precision precision,
      boolean unpurified, boolean rebuild, Progress.Sink sink, Listener listener) throws Exception {
    if (unpurified) {
      Loaded l = open(model, in, null, screening);
      LOG.warning(() -> "model " + model + ": serving UNPURIFIED weights " + l.weightsSha256()
          + " (allow_unpurified is set)");
      return l;
    }
    Purified p = purified(in, rebuild, sink, listener);
    String refused = UtilityGate.refusal(in.settings(), p.report());
    if (refused != null) {
      listener.refused(refused);
      throw ServiceException.purificationFailed(model, refused, null);
    }
    if (precision != Precision.FP32) {
      LowPrecision.Artefact a = LowPrecision.obtain(cache, backend, p, precision, in, rebuild, sink);
      Optional<String> why = a.agreement().refusal();
      if (why.isPresent()) {
        listener.refused(why.get());
        throw ServiceException.purificationFailed(model, why.get(), null);
      }
      sink.accept(Progress.of("load", 95, "opening the " + precision + " model"));
      Predictor lp = backend.openLowPrecision(a.dir(), precision, a.agreement());
      try {
        return new Loaded(lp, p.weightsSha256(), true, p.key(), p.report(), p.suspectedTokens(), p.fromCache(),
            ScreenPolicy.OFF, null);
      } catch (RuntimeException e) {
        lp.close();
        throw e;
      }
    }
    sink.accept(Progress.of("load", 90, "opening purified weights " + p.weightsSha256().substring(0, 12)));
    return open(model, in, p, screening);
  }

  /**
   * Hash -> cache -> purify: the purified checkpoint for {@code in}, from the cache, or purified now and stored. The
   * one path by which purified weights enter the cache (also for {@code finemix purify --cache-dir}).
   */
  public Purified purified(LoadInputs in, boolean rebuild, Progress.Sink sink, Listener listener) throws Exception {
    sink.accept(Progress.of("load", 2, "hashing inputs for the purified-weight cache"));
    String key = in.key(backend).hex();
    PurifiedCache.Obtained got = cache.obtain(key, rebuild, work -> {
      listener.purifying();
      if (!purifySlots.tryAcquire()) {
        sink.accept(Progress.of("queued", 3, "waiting for another purification to finish"));
        purifySlots.acquire();
      }
      try {
        PurifyOutcome out = backend.purify(in, work, p -> sink.accept(new Progress(p.stage(), 5 + 0.8 * p.percent(),
            p.message(), p.done(), p.total(), p.loss(), p.etaMillis())));
        sink.accept(Progress.of("cache", 86, "storing purified weights (" + key.substring(0, 12) + ")"));
        return new PurifiedCache.Built(out.report().toJson(), out.suspectedTokens());
      } finally {
        purifySlots.release();
      }
    }, waiting -> {
      listener.purifying();
      sink.accept(Progress.of("waiting", 4, waiting));
    });
    PurifiedCache.Entry e = got.entry();
    if (!got.built()) {
      sink.accept(Progress.of("cache", 85, "purified weights found in the cache (" + key.substring(0, 12) + ")"));
    }
    // the cache keeps the report as JSON (its manifest); here it becomes purify's record again
    return new Purified(key, e.dir(), e.weightsSha256(), DefenceReport.fromJson(e.report()), e.suspectedTokens(),
        !got.built());
  }

  /**
   * Opens the purified weights ({@code p}; the suspect when null), screened as the spec says. Screening is
   * calibrated on the clean subset against the suspect's embeddings. When it cannot be (no clean subset,
   * calibration failed), observe serves unscreened and records why; reject and strip fail the load, since they were
   * asked to enforce.
   */
  private Loaded open(String model, LoadInputs in, Purified p, ScreeningSettings s) {
    if (s.policy() == ScreenPolicy.OFF) {
      return loaded(in, p, null, ScreenPolicy.OFF, null);
    }
    String why = "no clean subset to calibrate on";
    if (in.clean() != null) {
      ScreenJob job = new ScreenJob(in.suspect(), in.baseModel(), in.clean(), in.wordCounts(), s.signal(),
          s.falseFlagRate());
      try {
        Loaded l = loaded(in, p, job, s.policy(), null);
        l.predictor().screening().ifPresent(c -> LOG.info(() -> String.format(Locale.ROOT, "model %s: screening"
            + " (%s) calibrated on %d clean rows: %s threshold %.4g, %.3f of them flagged (target %.3f)", model,
            s.policy().id(), c.rows(), c.signal(), c.threshold(), c.cleanFlagRate(), c.falseFlagRate())));
        return l;
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
    LOG.warning(() -> "model " + model + ": serving without screening (" + reason + ")");
    return loaded(in, p, null, ScreenPolicy.OFF, reason);
  }

  private Loaded loaded(LoadInputs in, Purified p, ScreenJob job, ScreenPolicy policy, String unavailable) {
    Predictor predictor = p == null ? backend.open(in.suspect(), job) : backend.open(p.dir(), job);
    try {
      return p == null
          ? new Loaded(predictor, in.suspect().info().weightsSha256(), false, null, null, List.of(), false, policy,
              unavailable)
          : new Loaded(predictor, p.weightsSha256(), true, p.key(), p.report(), p.suspectedTokens(), p.fromCache(),
              policy, unavailable);
    } catch (RuntimeException e) {
      predictor.close();
      throw e;
    }
  }

  /** A failure as a one-line reason: the message of the cause that says most, with its type unless ours. */
  public static String describe(Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c.getClass() == RuntimeException.class) && c.getCause() != null) {
      c = c.getCause();
    }
    String m = c.getMessage();
    return c instanceof ServiceException ? m : c.getClass().getSimpleName() + (m == null ? "" : ": " + m);
  }
}

package dev.finemix.server.registry;

import dev.finemix.purify.defence.DefenceReport;
import dev.finemix.purify.onnx.Agreement;
import dev.finemix.server.config.ModelSpec;
import dev.finemix.server.config.ScreenPolicy;
import dev.finemix.server.loading.Loaded;
import dev.finemix.server.loading.Predictor;
import dev.finemix.server.loading.ScreenCalibration;
import dev.finemix.server.screening.RequestScreening;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The weights answering Classify for one model and everything that changes with them (the spec they were loaded
 * with, the defence report, the suspected tokens, whether they came from the cache), immutable. A swap is one
 * reference write, so a batch and a GetModel see the old or the new model, never a mix. Reference counted: a
 * retired model closes its predictor once the last running batch released it.
 */
public final class ServingModel {
  private final ModelSpec spec;
  private final Loaded loaded;
  private final Instant since;
  private final Set<String> suspectedWords;
  private final AtomicInteger refs = new AtomicInteger(1); // the owner's reference, dropped by retire()
  private final AtomicBoolean retired = new AtomicBoolean();

  /**
   * @param spec the spec these weights were loaded with (after a Defend, with its settings)
   * @param since when they started serving
   */
  ServingModel(ModelSpec spec, Loaded loaded, Instant since) {
    this.spec = spec;
    this.loaded = loaded;
    this.since = since;
    this.suspectedWords = RequestScreening.lowerCase(loaded.suspectedTokens());
  }

  public ModelSpec spec() {
    return spec;
  }

  public String weightsSha256() {
    return loaded.weightsSha256();
  }

  public boolean purified() {
    return loaded.purified();
  }

  /** The purified-weight cache key, or null when unpurified. */
  public String cacheKey() {
    return loaded.cacheKey();
  }

  public Instant since() {
    return since;
  }

  public List<String> labels() {
    return loaded.predictor().labels();
  }

  /** The defence report of these weights, or null when unpurified. */
  public DefenceReport report() {
    return loaded.report();
  }

  /** Candidate triggers the defence found, most suspicious first. */
  public List<String> suspectedTokens() {
    return loaded.suspectedTokens();
  }

  /** True when the purified weights were found in the cache rather than purified by this load. */
  public boolean fromCache() {
    return loaded.fromCache();
  }

  /** The screening policy in force (OFF when the predictor does not screen). */
  public ScreenPolicy policy() {
    return loaded.policy();
  }

  /** The screening calibration of these weights; empty when they are not screened. */
  public Optional<ScreenCalibration> screening() {
    return loaded.predictor().screening();
  }

  /** How the low-precision model serving follows fp32; empty at fp32. */
  public Optional<Agreement> precisionAgreement() {
    return loaded.predictor().precisionAgreement();
  }

  /** Why screening is off although the spec asked for it; null otherwise. */
  public String screeningUnavailable() {
    return loaded.screeningUnavailable();
  }

  /** The suspected tokens in lower case, as request counting matches them. */
  Set<String> suspectedWords() {
    return suspectedWords;
  }

  Predictor predictor() {
    return loaded.predictor();
  }

  /** Takes a reference for one batch or probe; false once the model was retired and closed. */
  boolean tryAcquire() {
    for (;;) {
      int c = refs.get();
      if (c <= 0) {
        return false;
      }
      if (refs.compareAndSet(c, c + 1)) {
        return true;
      }
    }
  }

  void release() {
    if (refs.decrementAndGet() == 0) {
      loaded.predictor().close();
    }
  }

  /** Drops the owner's reference: the predictor closes now or when the last batch releases it. */
  void retire() {
    if (retired.compareAndSet(false, true)) {
      release();
    }
  }
}

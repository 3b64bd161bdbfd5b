package dev.finemix.server.registry;

import dev.finemix.server.config.ScreenPolicy;
import dev.finemix.server.loading.Predictor;
import dev.finemix.server.loading.ScreenCalibration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The weights answering Classify for one model, immutable. Swapped with one atomic reference write, so a batch
 * sees the old or the new model, never a mix. Reference counted: a retired model closes its predictor once the
 * last running batch released it.
 */
public final class ServingModel {
  private final Predictor predictor;
  private final String weightsSha256;
  private final boolean purified;
  private final String cacheKey;
  private final Instant since;
  private final ScreenPolicy policy;
  private final String screeningUnavailable;
  private final Set<String> labelledTokens;
  private final AtomicInteger refs = new AtomicInteger(1); // the owner's reference, dropped by retire()
  private final AtomicBoolean retired = new AtomicBoolean();

  /**
   * @param policy the screening policy in force: OFF unless {@code predictor} screens
   * @param screeningUnavailable why screening is off although the spec asked for it, or null
   */
  ServingModel(Predictor predictor, String weightsSha256, boolean purified, String cacheKey, Instant since,
      ScreenPolicy policy, String screeningUnavailable) {
    this.predictor = predictor;
    this.weightsSha256 = weightsSha256;
    this.purified = purified;
    this.cacheKey = cacheKey;
    this.since = since;
    Optional<ScreenCalibration> cal = predictor.screening();
    if (policy != ScreenPolicy.OFF && cal.isEmpty()) {
      throw new IllegalArgumentException("screening policy " + policy.id() + " needs a screening predictor");
    }
    this.policy = policy;
    this.screeningUnavailable = screeningUnavailable;
    this.labelledTokens = cal.map(c -> Set.copyOf(c.topTokens())).orElse(Set.of());
  }

  public String weightsSha256() {
    return weightsSha256;
  }

  public boolean purified() {
    return purified;
  }

  public String cacheKey() {
    return cacheKey;
  }

  public Instant since() {
    return since;
  }

  public List<String> labels() {
    return predictor.labels();
  }

  /** The screening policy in force (OFF when the predictor does not screen). */
  public ScreenPolicy policy() {
    return policy;
  }

  /** The screening calibration of these weights; empty when they are not screened. */
  public Optional<ScreenCalibration> screening() {
    return predictor.screening();
  }

  /** Why screening is off although the spec asked for it; null otherwise. */
  public String screeningUnavailable() {
    return screeningUnavailable;
  }

  /** {@code token} when it is one of the calibration's top tokens, else "other" (bounded metric labels). */
  String metricToken(String token) {
    return labelledTokens.contains(token) ? token : "other";
  }

  Predictor predictor() {
    return predictor;
  }

  /** Takes a reference for one batch; false once the model was retired and closed. */
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
      predictor.close();
    }
  }

  /** Drops the owner's reference: the predictor closes now or when the last batch releases it. */
  void retire() {
    if (retired.compareAndSet(false, true)) {
      release();
    }
  }
}

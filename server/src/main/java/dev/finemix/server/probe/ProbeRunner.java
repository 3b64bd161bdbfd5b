package dev.finemix.server.probe;

import dev.finemix.server.loading.ModelBackend;
import dev.finemix.server.loading.Predictor;
import dev.finemix.server.loading.Suspect;
import dev.finemix.server.loading.TextRow;
import dev.finemix.server.metrics.ServerMetrics;
import java.time.Clock;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * Runs the attack probe of one model's served weights against its suspect weights and exports the flip rates. The
 * caller holds a reference on the served weights for the call.
 */
public final class ProbeRunner {
  /** Fixes the trigger insertion positions, so reports of one model's weights compare across runs. */
  static final long SEED = 20221030L;

  private final ModelBackend backend;
  private final AttackProbe probe;
  private final ServerMetrics metrics;
  private final Clock clock;

  public ProbeRunner(ModelBackend backend, ServerMetrics metrics, Clock clock) {
    this.backend = Objects.requireNonNull(backend, "backend");
    this.probe = new AttackProbe(backend::insertTrigger, SEED);
    this.metrics = Objects.requireNonNull(metrics, "metrics");
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * Probes {@code served} on {@code rows}; without rows the report lists the tokens it would probe, unmeasured.
   *
   * @param purified whether {@code served} are purified weights; only then is the suspect opened to compare with
   * @param suspect the suspect checkpoint, read once (asked for only when {@code purified} and there are rows)
   * @param suspected the defence's suspected tokens, probed first
   */
  public ProbeReport run(String model, Predictor served, String servedSha256, boolean purified,
      Supplier<Suspect> suspect, List<TextRow> rows, List<String> suspected) {
    if (rows.isEmpty()) {
      return new ProbeReport(servedSha256, 0, AttackProbe.plan(suspected), clock.instant());
    }
    Predictor before = purified ? backend.open(suspect.get(), null) : served;
    try {
      ProbeReport r = probe.run(rows, suspected, before, served, servedSha256, clock.instant());
      for (TokenProbe t : r.tokens()) {
        metrics.flipRate(model, t.token(), t.suspected(), t.flipRateBefore(), t.flipRateAfter());
      }
      return r;
    } finally {
      if (before != served) {
        before.close();
      }
    }
  }
}

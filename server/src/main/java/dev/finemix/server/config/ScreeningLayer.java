package dev.finemix.server.config;

/**
 * Screening settings of one configuration layer; null fields fall through to the next layer. Values are checked
 * when built, so a bad one names its layer (config file key, command-line option or RegisterModel field).
 *
 * @param policy what to do with flagged inputs
 * @param falseFlagRate target share of clean inputs flagged, in (0, 0.5)
 * @param signal deciding signal (tokens, features, combined, perturbation)
 */
public record ScreeningLayer(ScreenPolicy policy, Double falseFlagRate, String signal) {
  public static final ScreeningLayer EMPTY = new ScreeningLayer(null, null, null);

  public ScreeningLayer {
    if (falseFlagRate != null) {
      ScreeningSettings.requireRate(falseFlagRate);
    }
    if (signal != null) {
      signal = ScreeningSettings.requireSignal(signal);
    }
  }

  /** This layer over {@code base}. */
  ScreeningSettings over(ScreeningSettings base) {
    return new ScreeningSettings(policy != null ? policy : base.policy(),
        falseFlagRate != null ? falseFlagRate : base.falseFlagRate(), signal != null ? signal : base.signal());
  }
}

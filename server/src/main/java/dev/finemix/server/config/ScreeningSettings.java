package dev.finemix.server.config;

import dev.finemix.purify.screen.Signal;

/**
 * Request-time screening of one model, after the layers were merged. Immutable.
 *
 * @param policy what to do with flagged inputs
 * @param falseFlagRate target share of clean inputs flagged, in (0, 0.5)
 * @param signal deciding signal id (tokens, features, combined, perturbation)
 */
public record ScreeningSettings(ScreenPolicy policy, double falseFlagRate, String signal) {
  public static final double DEFAULT_FALSE_FLAG_RATE = 0.01;
  public static final String DEFAULT_SIGNAL = "tokens";

  public ScreeningSettings {
    if (policy == null) {
      throw new IllegalArgumentException("screening.policy must not be null");
    }
    requireRate(falseFlagRate);
    signal = requireSignal(signal);
  }

  /** OBSERVE with the tokens signal at a 1% false-flag rate. */
  public static ScreeningSettings defaults() {
    return new ScreeningSettings(ScreenPolicy.OBSERVE, DEFAULT_FALSE_FLAG_RATE, DEFAULT_SIGNAL);
  }

  static void requireRate(double r) {
    if (!(r > 0 && r < 0.5)) {
      throw new IllegalArgumentException("false_flag_rate must be in (0, 0.5), got " + r);
    }
  }

  /** The canonical id of a signal name, or an error naming the accepted ones. */
  static String requireSignal(String s) {
    if (s == null) {
      throw new IllegalArgumentException("signal must not be null");
    }
    try {
      return Signal.parse(s).id();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("signal must be tokens, features, perturbation or combined, got '" + s + "'");
    }
  }
}

package dev.finemix.purify.screen;

/**
 * How a {@link Screener} is calibrated: the signal that decides, the false-flag rate targeted on clean rows,
 * the number of clean rows used, how many of an input's most suspicious tokens the perturbation deletes,
 * and the seed of the row sample and the cross-fitting folds.
 */
public record ScreenSettings(Signal signal, double falseFlagRate, int rows, int deleteTokens, long seed) {
  public static final double DEFAULT_FALSE_FLAG_RATE = 0.01;
  public static final int DEFAULT_ROWS = 64;

  public ScreenSettings {
    if (signal == null) {
      throw new IllegalArgumentException("signal must not be null");
    }
    if (!(falseFlagRate > 0 && falseFlagRate < 0.5)) {
      throw new IllegalArgumentException("falseFlagRate must be in (0, 0.5), got " + falseFlagRate);
    }
    if (rows < 8) {
      throw new IllegalArgumentException("rows must be >= 8, got " + rows);
    }
    if (deleteTokens < 1 || deleteTokens > 16) {
      throw new IllegalArgumentException("deleteTokens must be in 1..16, got " + deleteTokens);
    }
  }

  /** TOKENS at a 1% false-flag rate on 64 clean rows, deleting one token, seed 42. */
  public static ScreenSettings defaults() {
    return new ScreenSettings(Signal.TOKENS, DEFAULT_FALSE_FLAG_RATE, DEFAULT_ROWS, 1, 42);
  }

  public ScreenSettings withSignal(Signal s) {
    return new ScreenSettings(s, falseFlagRate, rows, deleteTokens, seed);
  }

  public ScreenSettings withFalseFlagRate(double r) {
    return new ScreenSettings(signal, r, rows, deleteTokens, seed);
  }

  public ScreenSettings withRows(int n) {
    return new ScreenSettings(signal, falseFlagRate, n, deleteTokens, seed);
  }

  public ScreenSettings withDeleteTokens(int n) {
    return new ScreenSettings(signal, falseFlagRate, rows, n, seed);
  }

  public ScreenSettings withSeed(long s) {
    return new ScreenSettings(signal, falseFlagRate, rows, deleteTokens, s);
  }
}

package dev.finemix.purify.defence;

import java.util.List;

/**
 * How {@link Purifier} decides rho: the grid is walked from its smallest rho up and the first trial that meets the
 * bars is taken; if none does, the smallest rho's trial is. The walk stops at the first acceptance, and a signal that
 * never clears the bar never buys a higher rho: a higher rho keeps more of the backdoor, so the fallback is the safe
 * end of the grid, not the most accurate trial (on a noisy signal that is usually a high rho).
 *
 * <p>Use: {@code while (search.hasNext()) { rho = search.next(); ...; search.judged(result, accepted); }} then
 * {@link #choice()}. Only the smallest rho's result and the accepted one are kept.
 *
 * @param <T> what a trial gives (the recovered weights)
 */
final class RhoSearch<T> {
  /** The trial taken, whether it met the bars, and how many rho values were tried. */
  record Choice<T>(double rho, T result, boolean accepted, int tried) {
  }

  private final List<Double> grid;
  private final DefenceSettings.RhoFallback fallback;
  private int tried;
  private boolean pending;
  private T lowest;
  private T accepted;
  private T best;
  private double bestScore = Double.NEGATIVE_INFINITY;
  private int bestIndex;

  /** @param grid rho values, smallest first (a one-value grid is a fixed rho); the fallback is the smallest rho */
  RhoSearch(List<Double> grid) {
    this(grid, DefenceSettings.RhoFallback.SMALLEST);
  }

  /** @param fallback which trial is taken when none meets the bars */
  RhoSearch(List<Double> grid, DefenceSettings.RhoFallback fallback) {
    if (grid.isEmpty()) throw new IllegalArgumentException("rho grid must not be empty");
    this.grid = List.copyOf(grid);
    this.fallback = java.util.Objects.requireNonNull(fallback, "fallback");
  }

  /** Whether another rho is to be tried: none accepted yet and the grid not walked to its end. */
  boolean hasNext() {
    return !pending && accepted == null && tried < grid.size();
  }

  /** The next rho to try; {@link #judged} must follow before the next call. */
  double next() {
    if (!hasNext()) throw new IllegalStateException("no rho left to try, or the last one not judged");
    pending = true;
    return grid.get(tried++);
  }

  /** The result of the rho {@link #next} gave and whether it met the bars (score: unused, as for a fixed rho). */
  void judged(T result, boolean meetsBars) {
    judged(result, meetsBars, Double.NaN);
  }

  /**
   * The result of the rho {@link #next} gave, whether it met the bars, and its score (held-out clean accuracy) for
   * the {@code MOST_ACCURATE} fallback; on a tie the smaller rho is kept.
   */
  void judged(T result, boolean meetsBars, double score) {
    if (!pending) throw new IllegalStateException("judged without next()");
    pending = false;
    if (tried == 1) lowest = result;
    if (meetsBars) accepted = result;
    if (fallback == DefenceSettings.RhoFallback.MOST_ACCURATE && (best == null || score > bestScore)) {
      best = result;
      bestScore = score;
      bestIndex = tried - 1;
    }
  }

  Choice<T> choice() {
    if (tried == 0 || pending) throw new IllegalStateException("no rho judged yet");
    if (accepted != null) return new Choice<>(grid.get(tried - 1), accepted, true, tried);
    return fallback == DefenceSettings.RhoFallback.MOST_ACCURATE
        ? new Choice<>(grid.get(bestIndex), best, false, tried)
        : new Choice<>(grid.get(0), lowest, false, tried);
  }
}

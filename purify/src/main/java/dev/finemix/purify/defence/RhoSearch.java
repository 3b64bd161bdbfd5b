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
  private int tried;
  private boolean pending;
  private T lowest;
  private T accepted;

  /** @param grid rho values, smallest first (a one-value grid is a fixed rho) */
  RhoSearch(List<Double> grid) {
    if (grid.isEmpty()) throw new IllegalArgumentException("rho grid must not be empty");
    this.grid = List.copyOf(grid);
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

  /** The result of the rho {@link #next} gave and whether it met the bars. */
  void judged(T result, boolean meetsBars) {
    if (!pending) throw new IllegalStateException("judged without next()");
    pending = false;
    if (tried == 1) lowest = result;
    if (meetsBars) accepted = result;
  }

  Choice<T> choice() {
    if (tried == 0 || pending) throw new IllegalStateException("no rho judged yet");
    return accepted != null ? new Choice<>(grid.get(tried - 1), accepted, true, tried)
        : new Choice<>(grid.get(0), lowest, false, tried);
  }
}

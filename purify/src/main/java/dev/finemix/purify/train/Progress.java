package dev.finemix.purify.train;

/**
 * One progress event, shared by CLI bars and streamed Defend replies.
 *
 * @param done units finished (steps, rows, ...) out of {@code total}
 * @param loss running loss, NaN where not applicable
 * @param etaMillis estimated time left, -1 when unknown
 */
public record Progress(String stage, long done, long total, double loss, double rowsPerSecond,
    long etaMillis, String message) {

  public static Progress message(String stage, String message) {
    return new Progress(stage, 0, 0, Double.NaN, 0, -1, message);
  }

  public boolean finished() {
    return total > 0 && done >= total;
  }
}

package dev.finemix.server.loading;

/**
 * One progress event of loading or purification: the one progress type for CLI bars and Defend streams.
 *
 * @param stage stage name ("load", "epur", "mix", "finetune", "cache", "swap", ...)
 * @param percent overall progress in [0, 100]
 * @param message human-readable detail
 * @param done steps done in this stage
 * @param total steps of this stage (0 when not counted)
 * @param loss last training loss, NaN when the stage does not train
 * @param etaMillis estimated time left in this stage, -1 when unknown
 */
public record Progress(String stage, double percent, String message, long done, long total, double loss,
    long etaMillis) {
  public static Progress of(String stage, double percent, String message) {
    return new Progress(stage, percent, message, 0, 0, Double.NaN, -1);
  }

  /** Receives progress; must not block long (it runs on the purification thread). */
  @FunctionalInterface
  public interface Sink {
    Sink NONE = p -> { };

    void accept(Progress p);
  }
}

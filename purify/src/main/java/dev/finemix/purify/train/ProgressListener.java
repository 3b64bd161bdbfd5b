package dev.finemix.purify.train;

/** Receives progress events; implementations must be cheap (they run on the worker thread). */
@FunctionalInterface
public interface ProgressListener {

  ProgressListener NONE = p -> { };

  void onProgress(Progress p);

  /** A one-line bar on stderr, redrawn at most 5 times a second; {@code stage} prefixes the line. */
  static ProgressListener console(String stage) {
    return new ConsoleProgress(stage, System.err, System::nanoTime);
  }
}

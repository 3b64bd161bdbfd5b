package dev.finemix.server.loading;

/** Chooses the production {@link ModelBackend}. */
public final class Backends {
  private Backends() {
  }

  /**
   * The backend on purify (Checkpoint, Purifier, Classifier).
   *
   * @param device "auto", "cpu", "gpu" or "gpu:N"
   */
  public static ModelBackend production(String device) {
    return new PurifyBackend(device);
  }
}

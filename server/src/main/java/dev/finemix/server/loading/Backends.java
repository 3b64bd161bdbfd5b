package dev.finemix.server.loading;

/** Chooses the production {@link ModelBackend}. */
public final class Backends {
  private Backends() {
  }

  /** The backend on purify (Checkpoint, Purifier, Classifier). */
  public static ModelBackend production() {
    return new PurifyBackend();
  }
}

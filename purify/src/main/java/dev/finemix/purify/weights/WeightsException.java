package dev.finemix.purify.weights;

/** Weights that cannot be read, written or used; the message names the file and tensor at fault. */
public final class WeightsException extends RuntimeException {
  public WeightsException(String message) {
    super(message);
  }

  public WeightsException(String message, Throwable cause) {
    super(message, cause);
  }
}

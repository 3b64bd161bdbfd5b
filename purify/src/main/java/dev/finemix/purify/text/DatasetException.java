package dev.finemix.purify.text;

/** A data file that cannot be used; the message names the file and line. */
public final class DatasetException extends RuntimeException {
  public DatasetException(String message) {
    super(message);
  }

  public DatasetException(String message, Throwable cause) {
    super(message, cause);
  }
}

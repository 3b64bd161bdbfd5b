package dev.finemix.server.batching;

/** A source of nanosecond time, injected so that tests advance a fake one instead of sleeping. */
@FunctionalInterface
public interface Ticker {
  /** Nanoseconds from an arbitrary origin; only differences mean anything. */
  long read();

  /** {@link System#nanoTime()}. */
  static Ticker system() {
    return System::nanoTime;
  }
}

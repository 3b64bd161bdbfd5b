package dev.finemix.server.testing;

import java.time.Duration;
import java.util.function.BooleanSupplier;

/**
 * Polls a condition that no event announces (a queue depth inside the batcher). Model states have events: wait for
 * those with {@link StateWatch}, for backend steps with {@link FakeBackend}'s latches.
 */
public final class Await {
  private Await() {
  }

  /** Checks {@code condition} every 5 ms until it holds; fails after {@code timeout} (a hang guard). */
  public static void until(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > end) {
        throw new AssertionError("not within " + timeout + ": " + what);
      }
      Thread.sleep(5);
    }
  }
}

package dev.finemix.server.testing;

import dev.finemix.server.registry.ModelState;
import dev.finemix.server.registry.StateListener;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BooleanSupplier;

/**
 * Listens to a server's model state changes ({@code ModelManager.addListener}) so a test waits for a state instead of
 * sleeping: {@link #until} re-checks its condition at every change. Also keeps the changes, in order.
 */
public final class StateWatch implements StateListener {
  private final List<String> events = new ArrayList<>();
  private long version;

  @Override
  public synchronized void changed(String model, ModelState state, boolean serving) {
    events.add(model + " " + state + (serving ? " serving" : ""));
    version++;
    notifyAll();
  }

  @Override
  public synchronized void removed(String model) {
    events.add(model + " removed");
    version++;
    notifyAll();
  }

  /** The changes so far, as "model STATE[ serving]" and "model removed". */
  public synchronized List<String> events() {
    return List.copyOf(events);
  }

  /**
   * Waits until {@code condition} holds, checking it now and after every state change; fails after {@code timeout}
   * (a guard against a hang, not a measurement).
   */
  public void until(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    for (;;) {
      long seen;
      synchronized (this) {
        seen = version;
      }
      if (condition.getAsBoolean()) {
        return;
      }
      synchronized (this) {
        while (version == seen) {
          long left = end - System.nanoTime();
          if (left <= 0) {
            throw new AssertionError("not within " + timeout + ": " + what + " (changes seen: " + events + ")");
          }
          wait(Math.max(1, left / 1_000_000));
        }
      }
    }
  }
}

package dev.finemix.server.testing;

import dev.finemix.server.batching.Ticker;
import java.util.concurrent.atomic.AtomicLong;

/** A ticker that moves only when told (plus an optional fixed step on every read). */
public final class FakeTicker implements Ticker {
  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private volatile long autoStepNanos;

  @Override
  public long read() {
    return nanos.getAndAdd(autoStepNanos);
  }

  public FakeTicker advance(long n) {
    nanos.addAndGet(n);
    return this;
  }

  public FakeTicker autoAdvance(long stepNanos) {
    this.autoStepNanos = stepNanos;
    return this;
  }
}

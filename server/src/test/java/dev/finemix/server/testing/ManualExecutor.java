package dev.finemix.server.testing;

import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A work pool that runs nothing until the test says so, on the test's thread: background loads and probes become
 * steps the test takes ({@link #runNext}, {@link #runAll}) instead of races it waits out.
 */
public final class ManualExecutor extends AbstractExecutorService {
  private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
  private volatile boolean shutdown;

  @Override
  public void execute(Runnable command) {
    if (shutdown) {
      throw new RejectedExecutionException("shut down");
    }
    tasks.add(command);
  }

  /** Tasks waiting to run. */
  public int pending() {
    return tasks.size();
  }

  /** Runs the oldest waiting task; false when there was none. */
  public boolean runNext() {
    Runnable r = tasks.poll();
    if (r == null) {
      return false;
    }
    r.run();
    return true;
  }

  /** Runs tasks until none waits, those the tasks submit included; returns how many ran. */
  public int runAll() {
    int n = 0;
    while (runNext()) {
      n++;
    }
    return n;
  }

  @Override
  public void shutdown() {
    shutdown = true;
  }

  @Override
  public List<Runnable> shutdownNow() {
    shutdown = true;
    List<Runnable> left = new ArrayList<>(tasks);
    tasks.clear();
    return left;
  }

  @Override
  public boolean isShutdown() {
    return shutdown;
  }

  @Override
  public boolean isTerminated() {
    return shutdown && tasks.isEmpty();
  }

  @Override
  public boolean awaitTermination(long timeout, TimeUnit unit) {
    return isTerminated();
  }
}

package dev.finemix.server.batching;

import dev.finemix.server.errors.ServiceException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Dynamic batching for one model. Callers {@link #submit} a request of one or more rows and get a future;
 * an aggregator thread blocks for the first request, drains what is ready, then polls against a shrinking
 * max-wait budget until the batch is full or out of time, and hands the batch to the inference pool
 * (never a gRPC/Netty thread). A lone request (nothing queued, carried or running, a batch slot free, and the last
 * batch a lone request too) skips the aggregator: {@link #submit} hands it to the inference pool itself. Waiting is
 * truly bounded: a request counts as waiting from its admission until its batch is formed (queued, or held by the
 * aggregator for the next batch), and admission itself is the capacity check.
 * Requests whose deadline passed before their batch runs are skipped with DEADLINE_EXCEEDED; a failed
 * batch fails every request in it; {@link #close} fails what is still queued with UNAVAILABLE.
 *
 * @param <I> one row of input
 * @param <O> one row of output
 */
public final class Batcher<I, O> implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(Batcher.class.getName());

  /** Runs one batch; must return exactly one output per input, in order. */
  @FunctionalInterface
  public interface BatchFunction<I, O> {
    List<O> apply(List<I> rows) throws Exception;
  }

  /** Observes batching for metrics; called on inference threads. */
  public interface Listener {
    Listener NONE = rows -> { };

    void onBatch(int rows);
  }

  static final class Request<I, O> {
    final List<I> rows;
    final long deadlineNanos;
    final CompletableFuture<List<O>> future = new CompletableFuture<>();

    Request(List<I> rows, long deadlineNanos) {
      this.rows = rows;
      this.deadlineNanos = deadlineNanos;
    }
  }

  private final String name;
  private final BatchSettings settings;
  private final BatchFunction<I, O> function;
  private final Executor inferencePool;
  private final Ticker ticker;
  private final Listener listener;
  private final ArrayBlockingQueue<Request<I, O>> queue;
  private final Semaphore inFlight;
  private final Thread aggregator;
  /** Whether a lone request may skip the aggregator (started batchers; tests drive unstarted ones step by step). */
  private final boolean direct;
  private volatile boolean closed;
  /** Requests admitted and not yet in a batch (queued or held by the aggregator): the capacity check counts these. */
  private final java.util.concurrent.atomic.AtomicInteger waiting = new java.util.concurrent.atomic.AtomicInteger();
  /** Requests accepted and not yet completed (queued, carried or running). */
  private final java.util.concurrent.atomic.AtomicInteger outstanding = new java.util.concurrent.atomic.AtomicInteger();
  /**
   * Requests in the last batch formed. A lone request takes the fast path (no aggregator, no wait) only after a
   * batch of one: at concurrency 1 every request does, while under load the first request back after a full batch
   * waits the budget for the others instead of running alone and keeping them waiting for a one-row batch.
   */
  private volatile int lastBatchRequests = 1;
  /** A request that did not fit the previous batch; touched by the aggregator thread only. */
  private Request<I, O> carried;

  private Batcher(String name, BatchSettings settings, BatchFunction<I, O> function, Executor inferencePool,
      Ticker ticker, Listener listener, boolean start) {
    this.name = Objects.requireNonNull(name, "name");
    this.settings = Objects.requireNonNull(settings, "settings");
    this.function = Objects.requireNonNull(function, "function");
    this.inferencePool = Objects.requireNonNull(inferencePool, "inferencePool");
    this.ticker = Objects.requireNonNull(ticker, "ticker");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.queue = new ArrayBlockingQueue<>(settings.queueCapacity());
    this.inFlight = new Semaphore(settings.maxConcurrentBatches());
    this.aggregator = new Thread(this::aggregate, "finemix-batcher-" + name);
    this.aggregator.setDaemon(true);
    this.direct = start && !Boolean.getBoolean("finemix.batcher.noDirect");
    if (start) {
      aggregator.start();
    }
  }

  /** A started batcher. */
  public static <I, O> Batcher<I, O> start(String name, BatchSettings settings, BatchFunction<I, O> function,
      Executor inferencePool, Ticker ticker, Listener listener) {
    return new Batcher<>(name, settings, function, inferencePool, ticker, listener, true);
  }

  /** A batcher whose aggregator does not run: tests drive it with {@link #collectBatch()} and {@link #runBatch}. */
  static <I, O> Batcher<I, O> unstarted(String name, BatchSettings settings, BatchFunction<I, O> function,
      Ticker ticker) {
    return new Batcher<>(name, settings, function, Runnable::run, ticker, Listener.NONE, false);
  }

  /**
   * Queues a request.
   *
   * @param rows the rows, at least one
   * @param deadlineNanos the {@link Ticker} time after which the request is no longer worth running;
   *     {@link Long#MAX_VALUE} for none
   * @return completes with one output per row, or exceptionally with a {@link ServiceException}
   */
  public CompletableFuture<List<O>> submit(List<I> rows, long deadlineNanos) {
    if (rows.isEmpty()) {
      throw new IllegalArgumentException("a request needs at least one row");
    }
    Request<I, O> request = new Request<>(List.copyOf(rows), deadlineNanos);
    if (closed) {
      request.future.completeExceptionally(ServiceException.shuttingDown(name));
      return request.future;
    }
    // alone = nothing queued, carried or running, and the last batch was a lone request too: no batch to join
    boolean alone = direct && lastBatchRequests <= 1 && outstanding.compareAndSet(0, 1);
    if (!alone) {
      outstanding.incrementAndGet();
    }
    request.future.whenComplete((r, t) -> outstanding.decrementAndGet());
    if (alone && inFlight.tryAcquire()) {
      // skips the aggregator, straight to the inference pool (one thread hand-off fewer at concurrency 1); when the
      // last batch still holds its permit for a moment, it is queued as usual
      lastBatchRequests = 1;
      dispatch(List.of(request));
      return request.future;
    }
    return enqueue(request);
  }

  private CompletableFuture<List<O>> enqueue(Request<I, O> request) {
    if (waiting.incrementAndGet() > settings.queueCapacity() || !queue.offer(request)) {
      waiting.decrementAndGet();
      request.future.completeExceptionally(ServiceException.queueFull(name, settings.queueCapacity()));
      return request.future;
    }
    if (closed && queue.remove(request)) { // close() raced with this offer and may have drained already
      waiting.decrementAndGet();
      request.future.completeExceptionally(ServiceException.shuttingDown(name));
    }
    return request.future;
  }

  /** Requests waiting now (queued, or held by the aggregator for the next batch). */
  public int queueDepth() {
    return waiting.get();
  }

  /** Nothing outstanding and every batch slot free (tests: a lone request submitted now takes the fast path). */
  boolean idle() {
    return outstanding.get() == 0 && inFlight.availablePermits() == settings.maxConcurrentBatches();
  }

  public BatchSettings settings() {
    return settings;
  }

  private void aggregate() {
    while (!closed) {
      Request<I, O> first;
      try {
        first = carried != null ? carried : queue.take();
      } catch (InterruptedException e) {
        return;
      }
      carried = first; // until the batch is formed, close() finds it here
      try {
        inFlight.acquire(); // waiting for a running batch to finish lets the queue fill
      } catch (InterruptedException e) {
        return;
      }
      List<Request<I, O>> batch;
      try {
        batch = collectBatch();
      } catch (InterruptedException e) {
        inFlight.release();
        return;
      }
      dispatch(batch);
    }
  }

  /**
   * Blocks for a first request, then gathers more until the batch is full or the wait budget is spent. A request
   * that is alone (no other request queued, carried or running) after a batch of one goes at once: nobody else is
   * there to wait for, so a lone caller (concurrency 1) never pays the wait budget. After a batch of several, a
   * request alone for the moment waits the budget: the callers of that batch are on their way back.
   */
  List<Request<I, O>> collectBatch() throws InterruptedException {
    Request<I, O> first = carried != null ? carried : queue.take();
    carried = null;
    List<Request<I, O>> batch = new ArrayList<>();
    batch.add(first);
    waiting.decrementAndGet();
    int rows = first.rows.size();
    long budgetEnd = outstanding.get() <= 1 && lastBatchRequests <= 1 ? ticker.read()
        : ticker.read() + TimeUnit.MICROSECONDS.toNanos(settings.maxWaitMicros());
    while (rows < settings.maxBatchSize()) {
      Request<I, O> next = queue.poll();
      if (next == null) {
        long remaining = budgetEnd - ticker.read();
        if (remaining <= 0) {
          break;
        }
        next = queue.poll(remaining, TimeUnit.NANOSECONDS);
        if (next == null) {
          break;
        }
      }
      if (rows + next.rows.size() > settings.maxBatchSize()) {
        carried = next;
        break;
      }
      batch.add(next);
      waiting.decrementAndGet();
      rows += next.rows.size();
    }
    lastBatchRequests = batch.size();
    return batch;
  }

  private void dispatch(List<Request<I, O>> batch) {
    try {
      inferencePool.execute(() -> {
        try {
          runBatch(batch);
        } finally {
          inFlight.release();
        }
      });
    } catch (RejectedExecutionException e) {
      inFlight.release();
      batch.forEach(r -> r.future.completeExceptionally(ServiceException.shuttingDown(name)));
    }
  }

  /** Runs one batch on the calling thread: skips cancelled and expired requests, completes the rest. */
  void runBatch(List<Request<I, O>> batch) {
    long now = ticker.read();
    List<Request<I, O>> live = new ArrayList<>(batch.size());
    List<I> rows = new ArrayList<>();
    for (Request<I, O> r : batch) {
      if (r.future.isDone()) {
        continue; // cancelled by the caller
      }
      if (now - r.deadlineNanos > 0 && r.deadlineNanos != Long.MAX_VALUE) {
        r.future.completeExceptionally(ServiceException.deadlineExceeded(name));
        continue;
      }
      live.add(r);
      rows.addAll(r.rows);
    }
    if (live.isEmpty()) {
      return;
    }
    listener.onBatch(rows.size());
    List<O> out;
    try {
      out = function.apply(rows);
      if (out == null || out.size() != rows.size()) {
        throw new IllegalStateException("batch function returned " + (out == null ? "null" : out.size())
            + " outputs for " + rows.size() + " rows");
      }
    } catch (Throwable t) {
      ServiceException failure = t instanceof ServiceException se ? se : ServiceException.inferenceFailed(name, t);
      if (!(t instanceof ServiceException)) {
        LOG.log(Level.WARNING, "batch of " + rows.size() + " rows failed on model " + name, t);
      }
      live.forEach(r -> r.future.completeExceptionally(failure));
      return;
    }
    int at = 0;
    for (Request<I, O> r : live) {
      int n = r.rows.size();
      r.future.complete(List.copyOf(out.subList(at, at + n)));
      at += n;
    }
  }

  /** Stops taking requests and fails every queued one with UNAVAILABLE; running batches finish. */
  @Override
  public void close() {
    if (closed) {
      return;
    }
    closed = true;
    aggregator.interrupt();
    try {
      aggregator.join(TimeUnit.SECONDS.toMillis(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    List<Request<I, O>> left = new ArrayList<>();
    if (carried != null && !aggregator.isAlive()) {
      left.add(carried);
      carried = null;
    }
    queue.drainTo(left);
    left.forEach(r -> r.future.completeExceptionally(ServiceException.shuttingDown(name)));
  }
}

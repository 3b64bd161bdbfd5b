package dev.finemix.server.batching;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.finemix.server.errors.ErrorReason;
import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.testing.FakeTicker;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class BatcherTest {
  private final FakeTicker ticker = new FakeTicker();
  private final List<List<Integer>> calls = Collections.synchronizedList(new ArrayList<>());

  private Batcher<Integer, Integer> unstarted(int maxBatch, long maxWaitMicros, int capacity) {
    return Batcher.unstarted("m", new BatchSettings(maxBatch, maxWaitMicros, capacity, 1), rows -> {
      calls.add(rows);
      return rows.stream().map(r -> r * 10).toList();
    }, ticker);
  }

  private static ErrorReason reason(CompletableFuture<?> f) {
    assertThat(f).isCompletedExceptionally();
    try {
      f.get();
      throw new AssertionError("not failed");
    } catch (ExecutionException e) {
      return ((ServiceException) e.getCause()).reason();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  @Test
  void collectBatch_readyRequests_drainedIntoOneBatchUpToMaxSize() throws Exception {
    Batcher<Integer, Integer> b = unstarted(4, 0, 10);
    var f1 = b.submit(List.of(1), Long.MAX_VALUE);
    var f2 = b.submit(List.of(2, 3), Long.MAX_VALUE);
    var f3 = b.submit(List.of(4), Long.MAX_VALUE);
    var f4 = b.submit(List.of(5), Long.MAX_VALUE);

    var batch = b.collectBatch();
    b.runBatch(batch);

    assertThat(calls).containsExactly(List.of(1, 2, 3, 4));
    assertThat(f1.get()).containsExactly(10);
    assertThat(f2.get()).containsExactly(20, 30);
    assertThat(f3.get()).containsExactly(40);
    assertThat(f4).isNotDone();
    assertThat(b.queueDepth()).isEqualTo(1);
  }

  @Test
  void collectBatch_requestThatDoesNotFit_carriedIntoTheNextBatch() throws Exception {
    Batcher<Integer, Integer> b = unstarted(3, 0, 10);
    b.submit(List.of(1, 2), Long.MAX_VALUE);
    var big = b.submit(List.of(3, 4), Long.MAX_VALUE);

    b.runBatch(b.collectBatch());
    b.runBatch(b.collectBatch());

    assertThat(calls).containsExactly(List.of(1, 2), List.of(3, 4));
    assertThat(big.get()).containsExactly(30, 40);
  }

  @Test
  void collectBatch_requestLargerThanMaxBatch_runsAlone() throws Exception {
    Batcher<Integer, Integer> b = unstarted(2, 0, 10);
    var f = b.submit(List.of(1, 2, 3), Long.MAX_VALUE);
    b.runBatch(b.collectBatch());
    assertThat(f.get()).containsExactly(10, 20, 30);
  }

  @Test
  void collectBatch_waitBudgetSpent_closesBatchWithoutWaiting() throws Exception {
    // each ticker read moves 1 ms: the 100 us budget is gone after the first read, so no real waiting happens
    ticker.autoAdvance(1_000_000);
    Batcher<Integer, Integer> b = unstarted(8, 100, 10);
    b.submit(List.of(1), Long.MAX_VALUE);
    long t0 = System.nanoTime();
    var batch = b.collectBatch();
    assertThat(batch).hasSize(1);
    assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.MILLISECONDS.toNanos(50));
  }

  @Test
  void collectBatch_loneRequest_goesAtOnceDespiteTheBudget() throws Exception {
    Batcher<Integer, Integer> b = unstarted(8, 10_000_000, 10); // 10 s budget on a frozen ticker
    b.submit(List.of(1), Long.MAX_VALUE);
    long t0 = System.nanoTime();
    assertThat(b.collectBatch()).hasSize(1);
    assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(2));
  }

  /** {@link Batcher#collectBatch()} on another thread: for batches that wait for requests the test sends later. */
  private static CompletableFuture<List<Batcher.Request<Integer, Integer>>> collectAsync(Batcher<Integer, Integer> b) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return b.collectBatch();
      } catch (InterruptedException e) {
        throw new IllegalStateException(e);
      }
    });
  }

  @Test
  void collectBatch_loneRequestAfterABatchOfSeveral_waitsTheBudgetForCompany() throws Exception {
    Batcher<Integer, Integer> b = unstarted(8, 2_000_000, 10); // 2 s budget on a frozen ticker
    b.submit(List.of(1), Long.MAX_VALUE);
    b.submit(List.of(2), Long.MAX_VALUE);
    var full = b.collectBatch();
    assertThat(full).hasSize(2);
    b.runBatch(full); // both complete: nothing is outstanding
    b.submit(List.of(3), Long.MAX_VALUE); // alone for now, but the last batch's other caller is on its way back
    var collector = collectAsync(b);
    Thread.sleep(50);
    assertThat(collector).isNotDone();
    b.submit(List.of(4), Long.MAX_VALUE);
    for (int i = 5; i <= 10; i++) {
      b.submit(List.of(i), Long.MAX_VALUE); // fills the batch: it closes before the budget is spent
    }
    assertThat(collector.get(1, TimeUnit.SECONDS)).extracting(r -> r.rows.get(0)).containsExactly(3, 4, 5, 6, 7, 8,
        9, 10);
  }

  @Test
  void collectBatch_requestArrivingWithinBudget_joinsBatch() throws Exception {
    Batcher<Integer, Integer> b = unstarted(8, 2_000_000, 10); // 2 s budget on a frozen ticker
    b.submit(List.of(0), Long.MAX_VALUE);
    assertThat(b.collectBatch()).hasSize(1); // alone: taken at once, and still running (never completed here)
    b.submit(List.of(1), Long.MAX_VALUE); // not alone: request 0 is outstanding, so this batch waits for more
    var collector = collectAsync(b);
    Thread.sleep(20);
    b.submit(List.of(2), Long.MAX_VALUE);
    for (int i = 3; i <= 8; i++) {
      b.submit(List.of(i), Long.MAX_VALUE); // fills the batch: it closes before the budget is spent
    }
    assertThat(collector.get(1, TimeUnit.SECONDS)).hasSize(8);
  }

  @Test
  void submit_queueFull_failsWithQueueFullAndKeepsTheOthers() {
    Batcher<Integer, Integer> b = unstarted(4, 0, 2);
    var a = b.submit(List.of(1), Long.MAX_VALUE);
    var c = b.submit(List.of(2), Long.MAX_VALUE);
    var rejected = b.submit(List.of(3), Long.MAX_VALUE);

    assertThat(reason(rejected)).isEqualTo(ErrorReason.QUEUE_FULL);
    assertThat(a).isNotDone();
    assertThat(c).isNotDone();
    assertThat(b.queueDepth()).isEqualTo(2);
  }

  @Test
  void runBatch_expiredDeadline_skippedWithDeadlineExceededAndNotRun() throws Exception {
    Batcher<Integer, Integer> b = unstarted(4, 0, 10);
    long now = ticker.read();
    var expired = b.submit(List.of(1), now + 100);
    var live = b.submit(List.of(2), now + 10_000_000);
    var batch = b.collectBatch();
    ticker.advance(1_000);

    b.runBatch(batch);

    assertThat(reason(expired)).isEqualTo(ErrorReason.DEADLINE_EXCEEDED);
    assertThat(live.get()).containsExactly(20);
    assertThat(calls).containsExactly(List.of(2));
  }

  @Test
  void runBatch_cancelledRequest_notRun() throws Exception {
    Batcher<Integer, Integer> b = unstarted(4, 0, 10);
    var cancelled = b.submit(List.of(1), Long.MAX_VALUE);
    var live = b.submit(List.of(2), Long.MAX_VALUE);
    cancelled.cancel(false);
    b.runBatch(b.collectBatch());
    assertThat(calls).containsExactly(List.of(2));
    assertThat(live.get()).containsExactly(20);
  }

  @Test
  void runBatch_functionThrows_failsEveryRequestOfTheBatch() {
    Batcher<Integer, Integer> b = Batcher.unstarted("m", new BatchSettings(4, 0, 10, 1), rows -> {
      throw new IllegalStateException("boom");
    }, ticker);
    var f1 = b.submit(List.of(1), Long.MAX_VALUE);
    var f2 = b.submit(List.of(2), Long.MAX_VALUE);
    try {
      b.runBatch(b.collectBatch());
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
    assertThat(reason(f1)).isEqualTo(ErrorReason.INFERENCE_FAILED);
    assertThat(reason(f2)).isEqualTo(ErrorReason.INFERENCE_FAILED);
  }

  @Test
  void runBatch_wrongOutputCount_failsTheBatch() throws Exception {
    Batcher<Integer, Integer> b = Batcher.unstarted("m", new BatchSettings(4, 0, 10, 1), rows -> List.of(1), ticker);
    var f1 = b.submit(List.of(1), Long.MAX_VALUE);
    var f2 = b.submit(List.of(2), Long.MAX_VALUE);
    b.runBatch(b.collectBatch());
    assertThat(reason(f1)).isEqualTo(ErrorReason.INFERENCE_FAILED);
    assertThat(reason(f2)).isEqualTo(ErrorReason.INFERENCE_FAILED);
  }

  @Test
  void close_queuedRequests_failWithShuttingDown_andLaterSubmitsToo() {
    Batcher<Integer, Integer> b = unstarted(4, 0, 10);
    var queued = b.submit(List.of(1), Long.MAX_VALUE);
    b.close();
    assertThat(reason(queued)).isEqualTo(ErrorReason.SHUTTING_DOWN);
    assertThat(reason(b.submit(List.of(2), Long.MAX_VALUE))).isEqualTo(ErrorReason.SHUTTING_DOWN);
  }

  @Test
  void submit_emptyRows_rejected() {
    Batcher<Integer, Integer> b = unstarted(4, 0, 10);
    assertThatThrownBy(() -> b.submit(List.of(), Long.MAX_VALUE)).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void started_concurrentCallers_eachGetTheirOwnRowsBack_inBatches() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(2);
    List<Integer> batchSizes = Collections.synchronizedList(new ArrayList<>());
    try (Batcher<Integer, Integer> b = Batcher.start("m", new BatchSettings(16, 5_000, 1000, 1), rows -> {
      Thread.sleep(2);
      return rows.stream().map(r -> -r).toList();
    }, pool, Ticker.system(), batchSizes::add)) {
      List<CompletableFuture<List<Integer>>> fs = new ArrayList<>();
      for (int i = 0; i < 200; i++) {
        fs.add(b.submit(List.of(i, i + 1000), Long.MAX_VALUE));
      }
      for (int i = 0; i < 200; i++) {
        assertThat(fs.get(i).get(10, TimeUnit.SECONDS)).containsExactly(-i, -(i + 1000));
      }
      assertThat(batchSizes).allMatch(n -> n <= 16);
      assertThat(batchSizes.stream().mapToInt(Integer::intValue).sum()).isEqualTo(400);
      assertThat(batchSizes.stream().mapToInt(Integer::intValue).max().orElse(0)).isGreaterThan(2);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void started_loneRequest_handedToThePoolByTheCaller_queuedOnesByTheAggregator() throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(1);
    List<String> handedBy = Collections.synchronizedList(new ArrayList<>());
    java.util.concurrent.Executor recording = task -> {
      handedBy.add(Thread.currentThread().getName());
      pool.execute(task);
    };
    java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
    try (Batcher<Integer, Integer> b = Batcher.start("m", new BatchSettings(16, 0, 100, 1), rows -> {
      if (rows.contains(1)) {
        release.await(10, TimeUnit.SECONDS);
      }
      return rows.stream().map(r -> -r).toList();
    }, recording, Ticker.system(), Batcher.Listener.NONE)) {
      CompletableFuture<List<Integer>> lone = b.submit(List.of(1), Long.MAX_VALUE);
      // while it runs, two more arrive: they are not alone, so they queue and the aggregator batches them
      CompletableFuture<List<Integer>> second = b.submit(List.of(2), Long.MAX_VALUE);
      CompletableFuture<List<Integer>> third = b.submit(List.of(3), Long.MAX_VALUE);
      release.countDown();
      assertThat(lone.get(10, TimeUnit.SECONDS)).containsExactly(-1);
      assertThat(second.get(10, TimeUnit.SECONDS)).containsExactly(-2);
      assertThat(third.get(10, TimeUnit.SECONDS)).containsExactly(-3);
      assertThat(handedBy).hasSize(2);
      assertThat(handedBy.get(0)).isEqualTo(Thread.currentThread().getName());
      assertThat(handedBy.get(1)).isEqualTo("finemix-batcher-m");
      // idle again, but the last batch held two requests: the next lone one goes through the aggregator (in case
      // company follows); after that batch of one, lone requests skip the aggregator again
      assertThat(b.submit(List.of(4), Long.MAX_VALUE).get(10, TimeUnit.SECONDS)).containsExactly(-4);
      assertThat(handedBy).hasSize(3);
      assertThat(handedBy.get(2)).isEqualTo("finemix-batcher-m");
      long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (!b.idle() && System.nanoTime() < until) {
        Thread.onSpinWait(); // request 4's completion hook or its batch slot's release may still be running
      }
      assertThat(b.submit(List.of(5), Long.MAX_VALUE).get(10, TimeUnit.SECONDS)).containsExactly(-5);
      assertThat(handedBy).hasSize(4);
      assertThat(handedBy.get(3)).isEqualTo(Thread.currentThread().getName());
    } finally {
      pool.shutdownNow();
    }
  }
}

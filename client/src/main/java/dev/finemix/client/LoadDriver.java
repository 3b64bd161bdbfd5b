package dev.finemix.client;

import dev.finemix.proto.v1.ClassifyRequest;
import io.grpc.Status;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * A closed-loop load driver: {@code callers} threads each send Classify requests of {@code textsPerRequest} texts
 * back to back for {@code duration}, and the latencies and failures are summarised.
 */
public final class LoadDriver {
  /**
   * The outcome of a run.
   *
   * @param requests successful requests
   * @param rows texts classified
   * @param seconds wall time
   * @param p50Millis median latency of successful requests
   * @param p95Millis 95th percentile
   * @param p99Millis 99th percentile
   * @param failures failed requests by status code
   */
  public record Result(long requests, long rows, double seconds, double p50Millis, double p95Millis,
      double p99Millis, Map<String, Integer> failures) {
    public double rowsPerSecond() {
      return rows / seconds;
    }

    public String summary() {
      return String.format(Locale.ROOT, "%d requests, %d rows in %.1f s: %.1f rows/s, %.1f req/s; latency p50 %.1f"
          + " ms, p95 %.1f ms, p99 %.1f ms; failures %s", requests, rows, seconds, rowsPerSecond(), requests / seconds,
          p50Millis, p95Millis, p99Millis, failures);
    }
  }

  private final FinemixClient client;

  public LoadDriver(FinemixClient client) {
    this.client = Objects.requireNonNull(client, "client");
  }

  /** Runs the load; {@code texts} are cycled through. */
  public Result run(String model, List<String> texts, int callers, int textsPerRequest, Duration duration)
      throws InterruptedException {
    if (callers < 1 || textsPerRequest < 1 || texts.isEmpty()) {
      throw new IllegalArgumentException("need callers >= 1, textsPerRequest >= 1 and some texts; got " + callers
          + ", " + textsPerRequest + ", " + texts.size());
    }
    ExecutorService pool = Executors.newFixedThreadPool(callers);
    long end = System.nanoTime() + duration.toNanos();
    long start = System.nanoTime();
    List<Future<long[]>> futures = new ArrayList<>();
    Map<String, Integer> failures = new TreeMap<>();
    for (int c = 0; c < callers; c++) {
      int caller = c;
      futures.add(pool.submit(() -> {
        long[] lat = new long[1024];
        int n = 0;
        int next = caller * textsPerRequest;
        while (System.nanoTime() < end) {
          ClassifyRequest.Builder r = ClassifyRequest.newBuilder().setModel(model);
          for (int i = 0; i < textsPerRequest; i++) {
            r.addTexts(texts.get(next++ % texts.size()));
          }
          long t0 = System.nanoTime();
          try {
            client.classify(r.build());
            if (n == lat.length) {
              lat = Arrays.copyOf(lat, n * 2);
            }
            lat[n++] = System.nanoTime() - t0;
          } catch (RuntimeException e) {
            synchronized (failures) {
              failures.merge(Status.fromThrowable(e).getCode().name(), 1, Integer::sum);
            }
          }
        }
        return Arrays.copyOf(lat, n);
      }));
    }
    List<Long> all = new ArrayList<>();
    try {
      for (Future<long[]> f : futures) {
        for (long l : f.get()) {
          all.add(l);
        }
      }
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException("a load caller failed", e.getCause());
    } finally {
      pool.shutdownNow();
      pool.awaitTermination(5, TimeUnit.SECONDS);
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    all.sort(null);
    return new Result(all.size(), (long) all.size() * textsPerRequest, seconds, pct(all, 0.50), pct(all, 0.95),
        pct(all, 0.99), failures);
  }

  private static double pct(List<Long> sorted, double q) {
    if (sorted.isEmpty()) {
      return Double.NaN;
    }
    int i = (int) Math.min(sorted.size() - 1, Math.ceil(q * sorted.size()) - 1);
    return sorted.get(Math.max(0, i)) / 1e6;
  }
}

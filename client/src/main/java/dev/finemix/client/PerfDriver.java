package dev.finemix.client;

import io.grpc.Status;
import java.lang.management.ManagementFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A perf_analyzer-style driver: runs one measurement level at a fixed concurrency (closed loop: each of N callers
 * sends its next request when the previous one returns) or at a fixed request rate (open loop: requests are sent on
 * a schedule and latency counts from the scheduled send time, so a slow server cannot hide queueing). Every level is
 * bounded by a request count and a wall time. The call itself is a {@link Call}, so the same driver measures gRPC or
 * any other path.
 */
public final class PerfDriver {
  /** Sends one request of {@code texts}; throws on failure (a gRPC status, or anything else). */
  @FunctionalInterface
  public interface Call {
    void call(List<String> texts) throws Exception;
  }

  /**
   * One measured level.
   *
   * @param mode "concurrency" or "rate"
   * @param concurrency callers (concurrency mode) or the most requests in flight (rate mode)
   * @param targetRate requests per second asked for (rate mode), else 0
   * @param requests successful requests
   * @param rows texts in successful requests
   * @param errors failed requests
   * @param errorsByCode failures by gRPC status code name (or exception class)
   * @param seconds wall time of the level
   * @param p50Millis latency percentiles of successful requests
   * @param processCpuSeconds CPU time of the whole process during the level (client + server when in-process)
   * @param callerCpuSeconds CPU time the calling threads spent inside {@link Call#call} (the client side of gRPC; all
   *     of the work for an in-process call)
   * @param loadAverage the 1-minute load average at the end of the level
   */
  public record Level(String mode, int concurrency, double targetRate, long requests, long rows, long errors,
      Map<String, Integer> errorsByCode, double seconds, double p50Millis, double p90Millis, double p99Millis,
      double meanMillis, double maxMillis, double processCpuSeconds, double callerCpuSeconds, double loadAverage) {
    public double requestsPerSecond() {
      return requests / seconds;
    }

    public double rowsPerSecond() {
      return rows / seconds;
    }

    /** Process CPU milliseconds per classified row: robust to how much of a shared machine we got. */
    public double cpuMillisPerRow() {
      return rows == 0 ? Double.NaN : processCpuSeconds * 1000 / rows;
    }
  }

  private static final java.lang.management.ThreadMXBean THREADS = ManagementFactory.getThreadMXBean();
  private final Call call;
  private final List<String> texts;
  private final int textsPerRequest;
  private final AtomicLong cursor = new AtomicLong();

  public PerfDriver(Call call, List<String> texts, int textsPerRequest) {
    this.call = Objects.requireNonNull(call, "call");
    if (texts == null || texts.isEmpty()) {
      throw new IllegalArgumentException("need at least one text to send");
    }
    if (textsPerRequest < 1) {
      throw new IllegalArgumentException("textsPerRequest must be >= 1, got " + textsPerRequest);
    }
    this.texts = List.copyOf(texts);
    this.textsPerRequest = textsPerRequest;
  }

  private List<String> nextTexts() {
    List<String> out = new ArrayList<>(textsPerRequest);
    for (int i = 0; i < textsPerRequest; i++) {
      out.add(texts.get((int) (cursor.getAndIncrement() % texts.size())));
    }
    return out;
  }

  /** Sends {@code n} requests one after another, ignoring failures (engine and connection warm-up). */
  public void warmUp(int n) {
    for (int i = 0; i < n; i++) {
      try {
        call.call(nextTexts());
      } catch (Exception e) {
        // warm-up only
      }
    }
  }

  /** Closed loop: {@code callers} threads, until {@code maxRequests} were sent or {@code maxTime} passed. */
  public Level concurrency(int callers, long maxRequests, Duration maxTime) throws InterruptedException {
    if (callers < 1) {
      throw new IllegalArgumentException("concurrency must be >= 1, got " + callers);
    }
    Recorder rec = new Recorder(maxRequests, maxTime);
    ExecutorService pool = Executors.newFixedThreadPool(callers, daemon("finemix-perf-caller"));
    AtomicLong budget = new AtomicLong(maxRequests);
    List<Future<?>> fs = new ArrayList<>();
    for (int c = 0; c < callers; c++) {
      fs.add(pool.submit(() -> {
        while (System.nanoTime() < rec.end && budget.getAndDecrement() > 0) {
          send(rec, nextTexts(), NOW);
        }
        return null;
      }));
    }
    await(fs, pool);
    return rec.level("concurrency", callers, 0);
  }

  /**
   * Open loop at {@code rate} requests per second; at most {@code maxInFlight} outstanding (a request that finds
   * none free counts as an error {@code CLIENT_SATURATED}: the server cannot keep up with the rate).
   */
  public Level rate(double rate, int maxInFlight, long maxRequests, Duration maxTime) throws InterruptedException {
    if (!(rate > 0)) {
      throw new IllegalArgumentException("rate must be > 0 requests/s, got " + rate);
    }
    if (maxInFlight < 1) {
      throw new IllegalArgumentException("maxInFlight must be >= 1, got " + maxInFlight);
    }
    Recorder rec = new Recorder(maxRequests, maxTime);
    ExecutorService pool = Executors.newFixedThreadPool(maxInFlight, daemon("finemix-perf-rate"));
    Semaphore slots = new Semaphore(maxInFlight);
    long interval = (long) (1e9 / rate);
    List<Future<?>> fs = new ArrayList<>();
    for (long i = 0; i < maxRequests; i++) {
      long due = rec.start + i * interval;
      if (due >= rec.end) {
        break;
      }
      long wait = due - System.nanoTime();
      if (wait > 0) {
        TimeUnit.NANOSECONDS.sleep(wait);
      }
      if (!slots.tryAcquire()) {
        rec.fail("CLIENT_SATURATED");
        continue;
      }
      List<String> t = nextTexts();
      fs.add(pool.submit(() -> {
        try {
          send(rec, t, due);
        } finally {
          slots.release();
        }
        return null;
      }));
    }
    await(fs, pool);
    return rec.level("rate", maxInFlight, rate);
  }

  /**
   * One request of a level: its latency (from {@code due}, the time the open loop scheduled it, so waiting counts;
   * {@link #NOW} in the closed loop), rows, error code and the calling thread's CPU time go into {@code rec}.
   */
  private void send(Recorder rec, List<String> texts, long due) {
    long c0 = THREADS.getCurrentThreadCpuTime();
    long t0 = due == NOW ? System.nanoTime() : due;
    try {
      call.call(texts);
      rec.ok(System.nanoTime() - t0, texts.size());
    } catch (Exception e) {
      rec.fail(e);
    } finally {
      rec.cpu(THREADS.getCurrentThreadCpuTime() - c0);
    }
  }

  private static void await(List<Future<?>> fs, ExecutorService pool) throws InterruptedException {
    try {
      for (Future<?> f : fs) {
        f.get();
      }
    } catch (java.util.concurrent.ExecutionException e) {
      throw new IllegalStateException("a perf caller failed", e.getCause());
    } finally {
      pool.shutdownNow();
      pool.awaitTermination(5, TimeUnit.SECONDS);
    }
  }

  /** CPU time of the whole process (all threads), or 0 when the JVM cannot say. */
  public static long processCpuNanos() {
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.OperatingSystemMXBean os) {
      return Math.max(0, os.getProcessCpuTime());
    }
    return 0;
  }

  /** The 1-minute load average, or -1. */
  public static double loadAverage() {
    return ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage();
  }

  /** The q-quantile (nearest rank) of sorted nanoseconds, in milliseconds; NaN when empty. */
  public static double percentileMillis(long[] sortedNanos, double q) {
    if (sortedNanos.length == 0) {
      return Double.NaN;
    }
    int i = (int) Math.ceil(q * sortedNanos.length) - 1;
    return sortedNanos[Math.max(0, Math.min(sortedNanos.length - 1, i))] / 1e6;
  }

  private static java.util.concurrent.ThreadFactory daemon(String prefix) {
    AtomicLong n = new AtomicLong();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }

  /** {@link #send}'s {@code due} of a request sent as soon as it is made. */
  private static final long NOW = Long.MIN_VALUE;

  /** What one level measures; wall and process CPU time count from its construction, its time bound too. */
  private static final class Recorder {
    final long start;
    final long end;
    private final long cpu0;
    private long[] lat = new long[1024];
    private int n;
    private long rows;
    private final Map<String, Integer> errors = new TreeMap<>();
    private long errorCount;
    private long callerCpu;

    Recorder(long maxRequests, Duration maxTime) {
      if (maxRequests < 1) {
        throw new IllegalArgumentException("maxRequests must be >= 1, got " + maxRequests);
      }
      if (maxTime == null || maxTime.isNegative() || maxTime.isZero()) {
        throw new IllegalArgumentException("maxTime must be > 0, got " + maxTime);
      }
      cpu0 = processCpuNanos();
      start = System.nanoTime();
      end = start + maxTime.toNanos();
    }

    synchronized void cpu(long nanos) {
      callerCpu += Math.max(0, nanos);
    }

    synchronized void ok(long nanos, int rowCount) {
      if (n == lat.length) {
        lat = Arrays.copyOf(lat, n * 2);
      }
      lat[n++] = nanos;
      rows += rowCount;
    }

    void fail(Exception e) {
      Status s = Status.fromThrowable(e);
      fail(s.getCode() == Status.Code.UNKNOWN && !(e instanceof io.grpc.StatusRuntimeException)
          ? e.getClass().getSimpleName() : s.getCode().name());
    }

    synchronized void fail(String code) {
      errors.merge(code, 1, Integer::sum);
      errorCount++;
    }

    synchronized Level level(String mode, int conc, double rate) {
      double seconds = (System.nanoTime() - start) / 1e9;
      double cpuSeconds = (processCpuNanos() - cpu0) / 1e9;
      long[] s = Arrays.copyOf(lat, n);
      Arrays.sort(s);
      double mean = 0;
      for (long x : s) {
        mean += x;
      }
      mean = s.length == 0 ? Double.NaN : mean / s.length / 1e6;
      return new Level(mode, conc, rate, n, rows, errorCount, java.util.Collections.unmodifiableMap(new TreeMap<>(errors)), seconds, percentileMillis(s, 0.50),
          percentileMillis(s, 0.90), percentileMillis(s, 0.99), mean, s.length == 0 ? Double.NaN : s[s.length - 1] / 1e6,
          cpuSeconds, callerCpu / 1e9, loadAverage());
    }
  }
}

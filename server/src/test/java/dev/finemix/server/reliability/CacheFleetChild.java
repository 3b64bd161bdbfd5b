package dev.finemix.server.reliability;

import dev.finemix.server.batching.Ticker;
import dev.finemix.server.cache.PurifiedCache;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.loading.TextRow;
import dev.finemix.server.metrics.ServerMetrics;
import dev.finemix.server.registry.ModelManager;
import dev.finemix.server.registry.ModelState;
import dev.finemix.server.registry.ModelView;
import dev.finemix.server.testing.FakeBackend;
import dev.finemix.server.testing.StateWatch;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/**
 * One replica for {@link SharedCacheFleetTest}: the sidecar's registry ({@link ModelManager}, everything but gRPC)
 * on a shared cache folder, with a {@link FakeBackend} whose purification takes a while and is logged. It registers
 * every model, waits until each serves, and logs what it serves. Args: cache folder, models root, log file, stale
 * after (ms), purification time (ms), owner name, model names (checkpoint folders with clean.tsv beside them).
 *
 * <p>Log lines: {@code OPEN} once its cache is open (start-up done), {@code PURIFY <model>} as a purification starts, {@code CACHE <message>} for the cache's log
 * (waits, take-overs), {@code SERVED <model> <served sha256> <cache key> <label of "a cf film">} once serving.
 */
public final class CacheFleetChild {
  private CacheFleetChild() {
  }

  public static void main(String[] args) throws Exception {
    Path log = Path.of(args[2]);
    Logger cacheLog = Logger.getLogger(PurifiedCache.class.getName());
    cacheLog.addHandler(new Handler() {
      @Override
      public void publish(LogRecord r) {
        append(log, "CACHE " + r.getMessage());
      }

      @Override
      public void flush() {
      }

      @Override
      public void close() {
      }
    });
    FakeBackend backend = new FakeBackend();
    backend.purifyMillis = Long.parseLong(args[4]);
    backend.purifyLog = log;
    Map<String, ModelView> served = serve(Path.of(args[0]), Path.of(args[1]), backend,
        leases(Duration.ofMillis(Long.parseLong(args[3]))), args[5], Arrays.asList(args).subList(6, args.length),
        () -> append(log, "OPEN"), (name, view, label) -> append(log, "SERVED " + name + " " + view.servedSha256() + " " + view.cacheKey() + " "
            + label));
    System.out.println("DONE " + served.size());
    System.exit(0);
  }

  /** Short leases for tests: the heartbeat a tenth of staleAfter, a poll every 50 ms, an alive owner waited 60 s. */
  static PurifiedCache.Leases leases(Duration staleAfter) {
    return new PurifiedCache.Leases(staleAfter, staleAfter.dividedBy(10), Duration.ofMillis(50),
        Duration.ofSeconds(60), PurifiedCache.Sleeper.REAL);
  }

  interface Served {
    void accept(String model, ModelView view, int cfLabel);
  }

  /**
   * Opens the cache folder (then runs {@code opened}), registers {@code models} on a ModelManager over it, waits (at
   * most 60 s) until each serves, and reports each with the label its weights give "a cf film" (0 once purified:
   * the fake backdoor is gone).
   */
  static Map<String, ModelView> serve(Path cacheDir, Path modelsRoot, FakeBackend backend,
      PurifiedCache.Leases leases, String owner, List<String> models, Runnable opened, Served served)
      throws Exception {
    ServerConfig cfg = ServerConfig.builder(modelsRoot, modelsRoot, cacheDir).build();
    ExecutorService work = Executors.newFixedThreadPool(models.size() + 1);
    ExecutorService inference = Executors.newFixedThreadPool(1);
    Map<String, ModelView> out = new LinkedHashMap<>();
    try (PurifiedCache cache = new PurifiedCache(cacheDir, 1L << 30, Clock.systemUTC(), PurifiedCache.Listener.NONE,
        leases, owner);
        ModelManager m = new ModelManager(cfg, backend, cache, new ServerMetrics(Map::of), inference, work,
            Ticker.system(), Clock.systemUTC())) {
      opened.run();
      StateWatch watch = new StateWatch();
      m.addListener(watch);
      for (String name : models) {
        m.register(cfg.resolve(ModelLayer.of(name, name, "clean.tsv")), false);
      }
      for (String name : models) {
        watch.until(name + " settles", Duration.ofSeconds(60), () -> m.get(name).state() == ModelState.SERVING
            || m.get(name).state() == ModelState.FAILED);
        if (m.get(name).state() != ModelState.SERVING) {
          throw new IllegalStateException(name + ": " + m.get(name).state() + " " + m.get(name).failureReason());
        }
        ModelView v = m.get(name);
        int label = m.classify(name, List.of(new TextRow("a cf film", null)), false, Long.MAX_VALUE)
            .get(10, TimeUnit.SECONDS).scores().get(0).label();
        served.accept(name, v, label);
        out.put(name, v);
      }
    } finally {
      work.shutdownNow();
      inference.shutdownNow();
    }
    return out;
  }

  private static synchronized void append(Path log, String line) {
    try {
      Files.writeString(log, line.replace('\n', ' ') + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

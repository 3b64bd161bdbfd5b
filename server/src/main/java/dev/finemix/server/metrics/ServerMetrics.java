package dev.finemix.server.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The server's Prometheus metrics, on their own registry (so several servers can run in one JVM in tests),
 * optionally exported on HTTP {@code /metrics}.
 */
public final class ServerMetrics implements AutoCloseable {
  private static final String[] STATES = {"LOADING", "PURIFYING", "SERVING", "FAILED"};

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Histogram latency;
  private final Histogram batchSize;
  private final Gauge modelState;
  private final Gauge servedWeights;
  private final Gauge flipRate;
  private final Counter suspectedRequests;
  private final Counter cacheEvents;
  private final Counter utilityGateRefusals;
  private final Histogram screenScore;
  private final Counter screenFlagged;
  private final Counter screenTokenHits;
  private final Gauge screenThreshold;
  private final Map<String, String> servedHash = new ConcurrentHashMap<>();
  private HTTPServer http;

  /** @param queueDepths current queue depth per model, read at scrape time */
  public ServerMetrics(Supplier<Map<String, Integer>> queueDepths) {
    Objects.requireNonNull(queueDepths, "queueDepths");
    latency = Histogram.builder().name("finemix_request_duration_seconds")
        .help("Latency of gRPC calls by model, method and status code")
        .classicUpperBounds(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30)
        .classicOnly()
        .labelNames("model", "method", "code").register(registry);
    batchSize = Histogram.builder().name("finemix_batch_size").help("Rows per inference batch")
        .classicUpperBounds(1, 2, 4, 8, 16, 32, 64, 128, 256).classicOnly().labelNames("model").register(registry);
    GaugeWithCallback.builder().name("finemix_queue_depth").help("Requests waiting in a model's batching queue")
        .labelNames("model")
        .callback(cb -> queueDepths.get().forEach((m, d) -> cb.call(d, m)))
        .register(registry);
    modelState = Gauge.builder().name("finemix_model_state")
        .help("1 for the state a model is in, 0 for the others").labelNames("model", "state").register(registry);
    servedWeights = Gauge.builder().name("finemix_served_weights_info")
        .help("Always 1; labels name the SHA-256 of the weights a model serves and whether they are purified")
        .labelNames("model", "sha256", "purified").register(registry);
    flipRate = Gauge.builder().name("finemix_probe_flip_rate")
        .help("Fraction of clean probe rows whose label flips when a candidate trigger is inserted")
        .labelNames("model", "token", "suspected", "weights").register(registry);
    suspectedRequests = Counter.builder().name("finemix_suspected_trigger_requests")
        .help("Classify requests containing a token the defence flagged as a suspected trigger")
        .labelNames("model").register(registry);
    cacheEvents = Counter.builder().name("finemix_purified_cache_events")
        .help("Purified-weight cache lookups and repairs by event (hit, miss, corrupt, evicted)")
        .labelNames("event").register(registry);
    utilityGateRefusals = Counter.builder().name("finemix_utility_gate_refusals")
        .help("Purified weights not swapped in because their clean accuracy fell more than the margin below the"
            + " suspect's").labelNames("model").register(registry);
    screenScore = Histogram.builder().name("finemix_screen_score_ratio")
        .help("Request-time screening: each screened input's suspicion score divided by the model's calibrated"
            + " threshold (above 1 = flagged)")
        .classicUpperBounds(.1, .25, .5, .75, .9, 1, 1.1, 1.25, 1.5, 2, 3, 5, 10, 100)
        .classicOnly()
        .labelNames("model").register(registry);
    screenFlagged = Counter.builder().name("finemix_screen_flagged_inputs")
        .help("Classify inputs flagged by request-time screening, by what was done (observed, stripped, rejected)")
        .labelNames("model", "action").register(registry);
    screenTokenHits = Counter.builder().name("finemix_screen_token_hits")
        .help("Suspected trigger tokens in flagged inputs; tokens outside the model's top suspected list count as"
            + " \"other\"").labelNames("model", "token").register(registry);
    screenThreshold = Gauge.builder().name("finemix_screen_threshold")
        .help("Calibrated suspicion threshold of a model's request-time screening")
        .labelNames("model", "signal").register(registry);
  }

  /** Starts the HTTP exporter on {@code address}:{@code port} (port 0 = ephemeral); returns the port. */
  public synchronized int serve(InetAddress address, int port) {
    try {
      http = HTTPServer.builder().inetAddress(address).port(port).registry(registry).buildAndStart();
      return http.getPort();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot serve metrics on " + address.getHostAddress() + ":" + port, e);
    }
  }

  public PrometheusRegistry registry() {
    return registry;
  }

  public void request(String model, String method, String code, double seconds) {
    latency.labelValues(model, method, code).observe(seconds);
  }

  public void batch(String model, int rows) {
    batchSize.labelValues(model).observe(rows);
  }

  /** Batches run so far and the rows in them, over every model ({@code finemix_batch_size}'s count and sum). */
  public record BatchTotals(long batches, double rows) {}

  /** What {@code bench load} reads before and after each level, without scraping by metric name. */
  public BatchTotals batchTotals() {
    long count = 0;
    double sum = 0;
    for (var d : batchSize.collect().getDataPoints()) {
      count += d.getCount();
      sum += d.getSum();
    }
    return new BatchTotals(count, sum);
  }

  public void state(String model, String state) {
    for (String s : STATES) {
      modelState.labelValues(model, s).set(s.equals(state) ? 1 : 0);
    }
  }

  public void served(String model, String sha256, boolean purified) {
    String old = servedHash.put(model, sha256 + "|" + purified);
    if (old != null) {
      String[] p = old.split("\\|");
      servedWeights.remove(model, p[0], p[1]);
    }
    servedWeights.labelValues(model, sha256, Boolean.toString(purified)).set(1);
  }

  public void flipRate(String model, String token, boolean suspected, double before, double after) {
    flipRate.labelValues(model, token, Boolean.toString(suspected), "suspect").set(before);
    flipRate.labelValues(model, token, Boolean.toString(suspected), "served").set(after);
  }

  public void suspectedTriggerRequest(String model) {
    suspectedRequests.labelValues(model).inc();
  }

  /** One screened input: its suspicion score over the threshold (not observed when the threshold is not positive). */
  public void screened(String model, double score, double threshold) {
    if (threshold > 0 && Double.isFinite(score)) {
      screenScore.labelValues(model).observe(score / threshold);
    }
  }

  /**
   * One flagged input.
   *
   * @param action observed, stripped or rejected
   * @param tokens its suspected tokens, already capped to the model's labelled set (others as "other")
   */
  public void flagged(String model, String action, Iterable<String> tokens) {
    screenFlagged.labelValues(model, action).inc();
    for (String t : tokens) {
      screenTokenHits.labelValues(model, t).inc();
    }
  }

  /** The calibrated threshold of the weights a model serves now; {@code signal} null when it does not screen. */
  public void screenThreshold(String model, String signal, double threshold) {
    screenThreshold.removeIf(l -> l.get(0).equals(model));
    if (signal != null) {
      screenThreshold.labelValues(model, signal).set(threshold);
    }
  }

  /**
   * A model was registered: its per-model counters start at 0 now, so the documented series exist (and
   * {@code increase()} sees the first event) before anything is counted.
   */
  public void registered(String model) {
    utilityGateRefusals.labelValues(model);
    suspectedRequests.labelValues(model);
  }

  public void utilityGateRefused(String model) {
    utilityGateRefusals.labelValues(model).inc();
  }

  public void cacheEvent(String event) {
    cacheEvents.labelValues(event).inc();
  }

  /** Drops every series of a removed model. */
  public void removed(String model) {
    for (String s : STATES) {
      modelState.remove(model, s);
    }
    String old = servedHash.remove(model);
    if (old != null) {
      String[] p = old.split("\\|");
      servedWeights.remove(model, p[0], p[1]);
    }
    utilityGateRefusals.remove(model);
    suspectedRequests.remove(model);
    screenScore.removeIf(l -> l.get(0).equals(model));
    screenFlagged.removeIf(l -> l.get(0).equals(model));
    screenTokenHits.removeIf(l -> l.get(0).equals(model));
    screenThreshold.removeIf(l -> l.get(0).equals(model));
  }

  @Override
  public synchronized void close() {
    if (http != null) {
      http.close();
      http = null;
    }
  }
}

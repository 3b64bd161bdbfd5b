package dev.finemix.server.registry;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.server.batching.Batcher;
import dev.finemix.server.config.ModelSpec;
import dev.finemix.server.loading.Scores;
import dev.finemix.server.loading.TextRow;
import dev.finemix.server.probe.ProbeReport;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/** One registered model: what was registered, its state, and the weights serving now. */
final class ModelEntry {
  /** One scored row and the weights that scored it. */
  record Scored(Scores scores, ServingModel model) {
  }

  final String name;
  final Path checkpointDir;
  final Path cleanFile;
  final Path unlabelledFile;
  final boolean pair;
  final String baseModel;
  final String suspectSha256;
  final List<String> labels;
  final AtomicReference<ServingModel> serving = new AtomicReference<>();
  /** True while a load or Defend runs; at most one at a time. */
  final AtomicBoolean working = new AtomicBoolean();
  final AtomicLong suspectedRequests = new AtomicLong();
  /** Classify inputs screened, and of those flagged, since registration. */
  final AtomicLong screenedInputs = new AtomicLong();
  final AtomicLong flaggedInputs = new AtomicLong();
  volatile Batcher<TextRow, Scored> batcher;
  volatile ModelSpec spec;
  volatile ModelState state = ModelState.LOADING;
  volatile String failureReason;
  volatile ObjectNode report;
  volatile List<String> suspectedTokens = List.of();
  volatile Set<String> suspectedSet = Set.of();
  volatile boolean fromCache;
  volatile ProbeReport probe;
  volatile boolean removed;

  ModelEntry(ModelSpec spec, Path checkpointDir, Path cleanFile, Path unlabelledFile, boolean pair, String baseModel,
      String suspectSha256, List<String> labels) {
    this.unlabelledFile = unlabelledFile;
    this.name = spec.name();
    this.spec = spec;
    this.checkpointDir = checkpointDir;
    this.cleanFile = cleanFile;
    this.pair = pair;
    this.baseModel = baseModel;
    this.suspectSha256 = suspectSha256;
    this.labels = List.copyOf(labels);
  }

  ModelView view() {
    ServingModel m = serving.get();
    return new ModelView(spec, state, baseModel, m != null ? m.labels() : labels, pair, suspectSha256,
        m == null ? null : m.weightsSha256(), m != null && m.purified(), m == null ? null : m.cacheKey(), report,
        suspectedTokens, fromCache, failureReason, m == null ? null : m.since(),
        batcher == null ? 0 : batcher.queueDepth());
  }

  /** Stops the batcher (queued requests fail UNAVAILABLE) and retires the serving weights. */
  void close() {
    removed = true;
    if (batcher != null) {
      batcher.close();
    }
    ServingModel m = serving.getAndSet(null);
    if (m != null) {
      m.retire();
    }
  }
}

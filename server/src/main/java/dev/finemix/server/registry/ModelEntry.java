package dev.finemix.server.registry;

import dev.finemix.server.batching.Batcher;
import dev.finemix.server.config.ModelSpec;
import dev.finemix.server.loading.InputReader;
import dev.finemix.server.loading.Scores;
import dev.finemix.server.loading.TextRow;
import dev.finemix.server.probe.ProbeReport;
import dev.finemix.server.screening.RequestScreening;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;

/**
 * One registered model: what was registered (immutable), its batcher and screening counts, and one reference to
 * its {@link Status}: state and serving weights change together in one write, so a reader never sees the new
 * weights with the old state. Nothing here is guarded by a lock.
 */
final class ModelEntry {
  /** One scored row and the weights that scored it. */
  record Scored(Scores scores, ServingModel model) {
  }

  /**
   * Where a model is: its state, the weights answering Classify (null while none do; the old ones during a Defend),
   * why the last load failed (or null), whether a load or Defend runs (at most one at a time), and whether it was
   * removed (then nothing changes any more).
   */
  record Status(ModelState state, ServingModel serving, String failureReason, boolean busy, boolean removed) {
    /** A new registration: its first load is about to run. */
    static final Status LOADING = new Status(ModelState.LOADING, null, null, true, false);

    Status withState(ModelState s) {
      return new Status(s, serving, failureReason, busy, removed);
    }

    /** No load running: SERVING while weights serve, else FAILED. */
    Status idle(String reason) {
      return new Status(serving != null ? ModelState.SERVING : ModelState.FAILED, serving, reason, false, removed);
    }
  }

  final String name;
  /** The spec as registered (the serving weights carry the one they were loaded with). */
  final ModelSpec spec;
  final Path checkpointDir;
  final Path cleanFile;
  final Path unlabelledFile;
  final boolean pair;
  final String baseModel;
  final String suspectSha256;
  final List<String> labels;
  final Batcher<TextRow, Scored> batcher;
  final RequestScreening screening;
  final AtomicReference<Status> status = new AtomicReference<>(Status.LOADING);
  final AtomicReference<ProbeReport> lastProbe = new AtomicReference<>();

  /**
   * @param r the registration as read (its inputs are not kept)
   * @param batcher starts this entry's batcher (its batch function reads the entry's serving weights; it runs only
   *     once requests are submitted, after construction)
   */
  ModelEntry(InputReader.Registration r, RequestScreening screening,
      Function<ModelEntry, Batcher<TextRow, Scored>> batcher) {
    this.name = r.spec().name();
    this.spec = r.spec();
    this.checkpointDir = r.checkpoint();
    this.cleanFile = r.clean();
    this.unlabelledFile = r.unlabelled();
    this.pair = r.pair();
    this.baseModel = r.inputs().baseModel();
    this.suspectSha256 = r.inputs().suspect().info().weightsSha256();
    this.labels = r.inputs().suspect().info().labels();
    this.screening = screening;
    this.batcher = batcher.apply(this);
  }

  ServingModel serving() {
    return status.get().serving();
  }

  /** The spec of the weights serving, or the registered one while none serve. */
  ModelSpec currentSpec() {
    ServingModel m = serving();
    return m == null ? spec : m.spec();
  }

  ModelView view() {
    Status s = status.get();
    ServingModel m = s.serving();
    return new ModelView(m == null ? spec : m.spec(), s.state(), baseModel, m != null ? m.labels() : labels, pair,
        suspectSha256, m == null ? null : m.weightsSha256(), m != null && m.purified(), m == null ? null
        : m.cacheKey(), m == null ? null : m.report(), m == null ? List.of() : m.suspectedTokens(),
        m != null && m.fromCache(), s.failureReason(), m == null ? null : m.since(), batcher.queueDepth(),
        m == null ? null : m.precisionAgreement().orElse(null));
  }

  /** Marks the entry removed, stops the batcher (queued requests fail UNAVAILABLE), retires the serving weights. */
  void close() {
    Status was = status.getAndUpdate(s -> new Status(s.state(), null, s.failureReason(), s.busy(), true));
    batcher.close();
    if (was.serving() != null) {
      was.serving().retire();
    }
  }
}

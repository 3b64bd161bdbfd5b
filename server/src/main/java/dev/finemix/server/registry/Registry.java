package dev.finemix.server.registry;

import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.metrics.ServerMetrics;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The registered models by name and their states. Every state change goes through here, so metrics and listeners
 * (health) hear of each one; a removed or replaced entry is closed here.
 */
final class Registry implements AutoCloseable {
  private final Map<String, ModelEntry> entries = new ConcurrentHashMap<>();
  private final List<StateListener> listeners = new CopyOnWriteArrayList<>();
  private final ServerMetrics metrics;
  private volatile boolean closed;

  Registry(ServerMetrics metrics) {
    this.metrics = Objects.requireNonNull(metrics, "metrics");
  }

  void addListener(StateListener l) {
    listeners.add(Objects.requireNonNull(l, "listener"));
  }

  /**
   * Adds {@code e} under its name, LOADING; an entry already there is replaced (and closed) only when
   * {@code replace}.
   *
   * @throws ServiceException ALREADY_EXISTS without replace, UNAVAILABLE once closed; {@code e} is closed then
   */
  void add(ModelEntry e, boolean replace) {
    ModelEntry old;
    synchronized (this) { // one check-then-put at a time; reads never lock
      if (closed || (!replace && entries.containsKey(e.name))) {
        e.close();
        throw closed ? ServiceException.shuttingDown(e.name) : ServiceException.modelExists(e.name);
      }
      old = entries.put(e.name, e);
    }
    if (old != null) {
      old.close();
    }
    metrics.registered(e.name);
    changed(e, e.status.get());
  }

  /** The entry named {@code name}: INVALID_ARGUMENT for no name, NOT_FOUND for an unknown one. */
  ModelEntry require(String name) {
    if (name == null || name.isBlank()) {
      throw ServiceException.badRequest("model", "must name a registered model");
    }
    ModelEntry e = entries.get(name);
    if (e == null) {
      throw ServiceException.modelNotFound(name);
    }
    return e;
  }

  /** The entry named {@code name}, or null. */
  ModelEntry find(String name) {
    return name == null ? null : entries.get(name);
  }

  Collection<ModelEntry> all() {
    return entries.values();
  }

  List<ModelView> views() {
    return entries.values().stream().map(ModelEntry::view).sorted(Comparator.comparing(v -> v.spec().name()))
        .toList();
  }

  /** Removes and closes {@code e} if it is still the entry under its name. */
  void remove(ModelEntry e) {
    if (entries.remove(e.name, e)) {
      e.close();
      listeners.forEach(l -> l.removed(e.name));
      metrics.removed(e.name);
    }
  }

  /** Moves {@code e} to {@code state}, keeping its weights; nothing once it was removed. */
  void setState(ModelEntry e, ModelState state) {
    update(e, s -> s.withState(state));
  }

  /**
   * Claims {@code e} for a Defend: PURIFYING (the old weights keep serving) unless a load or Defend runs.
   *
   * @return false when one runs already
   */
  boolean claim(ModelEntry e) {
    for (;;) {
      ModelEntry.Status s = e.status.get();
      if (s.busy() || s.removed()) {
        return false;
      }
      ModelEntry.Status n = new ModelEntry.Status(ModelState.PURIFYING, s.serving(), s.failureReason(), true, false);
      if (e.status.compareAndSet(s, n)) {
        changed(e, n);
        return true;
      }
    }
  }

  /** Ends a claim that never ran (the work pool refused it): back to SERVING or FAILED, the reason kept. */
  void release(ModelEntry e) {
    update(e, s -> s.idle(s.failureReason()));
  }

  /**
   * Records a failed load: SERVING with the reason while older weights serve, else FAILED.
   *
   * @return false when {@code e} was removed meanwhile
   */
  boolean fail(ModelEntry e, String reason) {
    return update(e, s -> s.idle(reason)) != null;
  }

  /**
   * Swaps {@code next} in: state SERVING, the weights, a cleared failure and the end of the load in one write; the
   * old weights retire (they close once their running batches finish).
   *
   * @return false when {@code e} was removed meanwhile; {@code next} is retired then
   */
  boolean serve(ModelEntry e, ServingModel next) {
    ModelEntry.Status was = update(e, s -> new ModelEntry.Status(ModelState.SERVING, next, null, false, false));
    if (was == null) {
      next.retire();
      return false;
    }
    if (was.serving() != null) {
      was.serving().retire();
    }
    return true;
  }

  /** Applies {@code f} unless removed and tells metrics and listeners; the status before, or null when removed. */
  private ModelEntry.Status update(ModelEntry e, java.util.function.UnaryOperator<ModelEntry.Status> f) {
    for (;;) {
      ModelEntry.Status s = e.status.get();
      if (s.removed()) {
        return null;
      }
      ModelEntry.Status n = f.apply(s);
      if (e.status.compareAndSet(s, n)) {
        changed(e, n);
        return s;
      }
    }
  }

  private void changed(ModelEntry e, ModelEntry.Status s) {
    metrics.state(e.name, s.state().name());
    for (StateListener l : listeners) {
      l.changed(e.name, s.state(), s.serving() != null);
    }
  }

  boolean closed() {
    return closed;
  }

  /** Closes every entry (queued requests fail UNAVAILABLE, weights unload); later adds fail UNAVAILABLE. */
  @Override
  public void close() {
    synchronized (this) {
      closed = true;
    }
    for (ModelEntry e : entries.values()) {
      listeners.forEach(l -> l.removed(e.name));
    }
    entries.values().forEach(ModelEntry::close);
    entries.clear();
  }
}

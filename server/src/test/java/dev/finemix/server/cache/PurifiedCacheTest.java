package dev.finemix.server.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.server.testing.MutableClock;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cache on one folder, and several writers on one folder (each a {@link PurifiedCache} instance, as each replica
 * has its own): time comes from a {@link MutableClock} that the waiters' sleeper advances, so no test sleeps. The
 * heartbeat threads tick every 20 real seconds, never within a test; tests call {@code beat()} and {@code sweep()}.
 * Real processes: reliability/SharedCacheFleetTest.
 */
class PurifiedCacheTest {
  static final Duration STALE = Duration.ofSeconds(60);
  static final Duration POLL = Duration.ofSeconds(1);

  @TempDir
  Path dir;
  private final List<String> events = new ArrayList<>();
  private final List<PurifiedCache> opened = new ArrayList<>();
  private final MutableClock clock = new MutableClock();
  private final PurifiedCache.Listener listener = new PurifiedCache.Listener() {
    @Override
    public void hit() {
      events.add("hit");
    }

    @Override
    public void miss() {
      events.add("miss");
    }

    @Override
    public void corrupt(String key, String why) {
      events.add("corrupt");
    }

    @Override
    public void evicted(String key) {
      events.add("evicted:" + key.substring(0, 4));
    }
  };

  @AfterEach
  void close() {
    opened.forEach(PurifiedCache::close);
  }

  private static String key(String s) {
    return Sha256.ofLines(s);
  }

  private static ObjectNode report() {
    return new ObjectMapper().createObjectNode().put("rho", 0.3);
  }

  /** A writer named {@code owner} on the folder; its waits advance the clock by the poll interval, then run onSleep. */
  private PurifiedCache writer(String owner, long maxBytes, Runnable onSleep) {
    PurifiedCache c = new PurifiedCache(dir, maxBytes, clock, listener, new PurifiedCache.Leases(STALE,
        Duration.ofSeconds(20), POLL, Duration.ofMinutes(10), d -> {
          clock.advance(d);
          onSleep.run();
        }), owner);
    opened.add(c);
    return c;
  }

  private PurifiedCache cache() {
    return writer("test", 1 << 20, () -> { });
  }

  private PurifiedCache.Entry put(PurifiedCache c, String k, int bytes) throws IOException {
    Path w = c.newWorkDir();
    Files.write(w.resolve("model.safetensors"), new byte[bytes]);
    Files.writeString(w.resolve("config.json"), "{}");
    return c.commit(k, w, report(), List.of("cf"), false);
  }

  /** A builder writing {@code weights} as model.safetensors, counting its calls. */
  private static PurifiedCache.Builder writes(String weights, AtomicInteger calls) {
    return work -> {
      calls.incrementAndGet();
      Files.writeString(work.resolve("model.safetensors"), weights);
      return new PurifiedCache.Built(report(), List.of("cf"));
    };
  }

  private List<String> dotFiles() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).sorted().toList();
    }
  }

  @Test
  void commit_thenGet_returnsVerifiedEntryWithReportAndTokens() throws IOException {
    PurifiedCache c = cache();
    PurifiedCache.Entry put = put(c, key("a"), 100);

    PurifiedCache.Entry got = cache().get(key("a")).orElseThrow();

    assertThat(got.weightsSha256()).isEqualTo(put.weightsSha256()).isEqualTo(Sha256.file(got.dir().resolve("model.safetensors")));
    assertThat(got.report().get("rho").asDouble()).isEqualTo(0.3);
    assertThat(got.suspectedTokens()).containsExactly("cf");
    assertThat(events).containsExactly("hit");
    assertThat(dotFiles()).isEmpty(); // no work folder, no lease left
  }

  @Test
  void get_absentKey_isMiss() {
    assertThat(cache().get(key("nope"))).isEmpty();
    assertThat(events).containsExactly("miss");
  }

  @Test
  void get_tamperedWeights_discardsEntryAndCountsIt() throws IOException {
    PurifiedCache c = cache();
    PurifiedCache.Entry e = put(c, key("a"), 100);
    Files.write(e.dir().resolve("model.safetensors"), new byte[] {1, 2, 3});

    assertThat(c.get(key("a"))).isEmpty();
    assertThat(events).containsExactly("corrupt", "miss");
    assertThat(e.dir()).doesNotExist();
  }

  @Test
  void get_missingManifest_discardsEntry() throws IOException {
    PurifiedCache c = cache();
    PurifiedCache.Entry e = put(c, key("a"), 100);
    Files.delete(e.dir().resolve("finemix-cache.json"));
    assertThat(c.get(key("a"))).isEmpty();
    assertThat(events).containsExactly("corrupt", "miss");
  }

  @Test
  void commit_beyondSizeBound_evictsLeastRecentlyUsed() throws IOException {
    PurifiedCache c = writer("test", 3_200, () -> { });
    put(c, key("a"), 1000);
    clock.advance(Duration.ofSeconds(10));
    put(c, key("b"), 1000);
    clock.advance(Duration.ofSeconds(10));
    c.get(key("a")); // a is now more recent than b
    clock.advance(Duration.ofSeconds(10));
    put(c, key("c"), 1000);

    assertThat(c.keys()).containsExactlyInAnyOrder(key("a"), key("c"));
    assertThat(events).contains("evicted:" + key("b").substring(0, 4));
    assertThat(c.sizeBytes()).isLessThanOrEqualTo(3_200);
  }

  @Test
  void abandon_failedWork_removedWithItsLease() throws IOException {
    PurifiedCache c = cache();
    Path w = c.newWorkDir();
    assertThat(dotFiles()).containsExactly(w.getFileName() + "", w.getFileName() + ".lease");
    c.abandon(w);
    assertThat(w).doesNotExist();
    assertThat(dotFiles()).isEmpty();
  }

  @Test
  void sweep_deadWritersWork_removedOnlyOnceSeenUnchangedForStaleAfter() throws IOException {
    Files.createDirectories(dir.resolve(".work-crashed"));
    Files.writeString(dir.resolve(".work-crashed/model.safetensors"), "half");
    Files.writeString(dir.resolve(".work-crashed.lease"), "owner pod-a/7/x\nbeat 3\n");
    Files.createDirectories(dir.resolve("..work-crashed.tmp-1-2")); // the checkpoint writer's temp folder beside it
    Files.createDirectories(dir.resolve(".work-legacy")); // an older version's work folder, without a lease
    Files.writeString(dir.resolve(".key-" + key("k") + ".lease"), "owner pod-a/7/x\nbeat 9\n");
    Files.writeString(dir.resolve(".nfs000123"), "an NFS silly-rename file: not ours");
    List<String> before = dotFiles();

    PurifiedCache c = cache(); // a restarted replica: sweeps at once, but removes nothing it has not watched
    assertThat(dotFiles()).isEqualTo(before);
    clock.advance(STALE.minusSeconds(1));
    c.sweep();
    assertThat(dotFiles()).isEqualTo(before);
    clock.advance(Duration.ofSeconds(1));
    c.sweep();

    assertThat(dotFiles()).containsExactly(".nfs000123");
    assertThat(c.keys()).isEmpty();
  }

  @Test
  void sweep_liveWritersWork_keptWhileItBeats_removedWhenItStops() throws IOException {
    PurifiedCache alive = writer("pod-a", 1 << 20, () -> { });
    PurifiedCache other = writer("pod-b", 1 << 20, () -> { });
    Path work = alive.newWorkDir();
    Files.writeString(work.resolve("model.safetensors"), "in progress");
    for (int i = 0; i < 5; i++) { // five stale periods, a heartbeat in each
      clock.advance(STALE.minusSeconds(10));
      alive.beat();
      other.sweep();
      assertThat(work).as("beat %d", i).isDirectory();
    }
    alive.sweep(); // a writer never removes its own work, however old
    other.sweep();
    clock.advance(STALE);
    alive.sweep();
    assertThat(work).isDirectory();

    other.sweep(); // pod-a stopped beating a full stale period ago
    assertThat(work).doesNotExist();
    assertThat(dotFiles()).isEmpty();
  }

  @Test
  void obtain_keyHeldByLiveWriter_waitsForItsEntry_neverPurifies() throws Exception {
    String k = key("shared");
    PurifiedCache owner = writer("pod-a", 1 << 20, () -> { });
    CountDownLatch building = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    CompletableFuture<PurifiedCache.Obtained> ownersRun = CompletableFuture.supplyAsync(() -> {
      try {
        return owner.obtain(k, false, work -> {
          building.countDown();
          assertThat(finish.await(30, TimeUnit.SECONDS)).isTrue();
          Files.writeString(work.resolve("model.safetensors"), "pod-a's weights");
          return new PurifiedCache.Built(report(), List.of());
        }, w -> { });
      } catch (Exception e) {
        throw new CompletionException(e);
      }
    });
    assertThat(building.await(30, TimeUnit.SECONDS)).isTrue(); // pod-a holds the key and purifies
    AtomicInteger sleeps = new AtomicInteger();
    PurifiedCache waiter = writer("pod-b", 1 << 20, () -> {
      owner.beat(); // pod-a's heartbeat, once a poll
      if (sleeps.incrementAndGet() == 90) { // 90 s later, well past one stale period, pod-a commits
        finish.countDown();
        ownersRun.join();
      }
    });
    List<String> waits = new CopyOnWriteArrayList<>();
    AtomicInteger purified = new AtomicInteger();

    PurifiedCache.Obtained got = waiter.obtain(k, false, writes("pod-b's weights", purified), waits::add);

    assertThat(got.built()).isFalse();
    assertThat(ownersRun.join().built()).isTrue();
    assertThat(purified).hasValue(0);
    assertThat(Files.readString(got.entry().dir().resolve("model.safetensors"))).isEqualTo("pod-a's weights");
    assertThat(waits).hasSizeGreaterThanOrEqualTo(9) // one note every 10 s of waiting
        .allSatisfy(w -> assertThat(w).startsWith("waiting for " + owner.owner() + " purifying key "
            + k.substring(0, 12)));
    assertThat(dotFiles()).isEmpty();
  }

  @Test
  void obtain_keyHeldByDeadWriter_takesOverAfterStaleAfter_andPurifiesOnce() throws Exception {
    String k = key("orphaned");
    Path lease = dir.resolve(".key-" + k + ".lease");
    Files.writeString(lease, "owner pod-a/7/dead\nbeat 41\n");
    long start = clock.millis();
    List<String> waits = new CopyOnWriteArrayList<>();
    AtomicInteger purified = new AtomicInteger();
    PurifiedCache waiter = cache();

    PurifiedCache.Obtained got = waiter.obtain(k, false, writes("mine", purified), waits::add);

    assertThat(got.built()).isTrue();
    assertThat(purified).hasValue(1);
    assertThat(clock.millis() - start).isBetween(STALE.toMillis(), STALE.plus(POLL).toMillis());
    assertThat(waits).first().asString().startsWith("waiting for pod-a/7/dead purifying key " + k.substring(0, 12));
    assertThat(waiter.get(k)).isPresent();
    assertThat(lease).doesNotExist();
    assertThat(events).containsExactly("miss", "hit");
  }

  @Test
  void obtain_liveOwnerNeverFinishing_purifiesItselfAfterMaxWait() throws Exception {
    String k = key("stuck");
    Path lease = dir.resolve(".key-" + k + ".lease");
    Files.writeString(lease, "owner pod-a/7/stuck\nbeat 0\n");
    AtomicInteger beats = new AtomicInteger();
    PurifiedCache waiter = writer("pod-b", 1 << 20, () -> {
      try { // pod-a is alive: its lease changes on every poll, but it never commits
        Files.writeString(lease, "owner pod-a/7/stuck\nbeat " + beats.incrementAndGet() + "\n");
      } catch (IOException e) {
        throw new AssertionError(e);
      }
    });
    long start = clock.millis();
    AtomicInteger purified = new AtomicInteger();

    PurifiedCache.Obtained got = waiter.obtain(k, false, writes("mine", purified), w -> { });

    assertThat(got.built()).isTrue();
    assertThat(purified).hasValue(1);
    assertThat(clock.millis() - start).isEqualTo(Duration.ofMinutes(10).toMillis());
    assertThat(lease).as("pod-a's lease is left to pod-a").exists();
  }

  @Test
  void obtain_entryPresent_hitWithoutLease() throws Exception {
    PurifiedCache c = cache();
    put(c, key("a"), 10);
    AtomicInteger purified = new AtomicInteger();
    PurifiedCache.Obtained got = c.obtain(key("a"), false, writes("x", purified), w -> { });
    assertThat(got.built()).isFalse();
    assertThat(purified).hasValue(0);
    assertThat(dotFiles()).isEmpty();
  }

  @Test
  void obtain_builderFails_workAndLeasesRemoved_exceptionPassedOn() throws IOException {
    PurifiedCache c = cache();
    assertThatThrownBy(() -> c.obtain(key("a"), false, work -> {
      Files.writeString(work.resolve("model.safetensors"), "half");
      throw new IllegalStateException("recovery diverged");
    }, w -> { })).isInstanceOf(IllegalStateException.class).hasMessage("recovery diverged");
    assertThat(dotFiles()).isEmpty();
    assertThat(c.keys()).isEmpty();
  }

  @Test
  void obtain_rebuild_replacesTheEntry() throws Exception {
    PurifiedCache c = cache();
    put(c, key("a"), 10);
    PurifiedCache.Obtained got = c.obtain(key("a"), true, writes("fresh", new AtomicInteger()), w -> { });
    assertThat(got.built()).isTrue();
    assertThat(Files.readString(c.get(key("a")).orElseThrow().dir().resolve("model.safetensors")))
        .isEqualTo("fresh");
    assertThat(dotFiles()).isEmpty();
  }

  @Test
  void commit_anotherWriterCommittedTheKeyFirst_theirsKept_oursDropped() throws IOException {
    PurifiedCache a = writer("pod-a", 1 << 20, () -> { });
    PurifiedCache b = writer("pod-b", 1 << 20, () -> { });
    Path wa = a.newWorkDir();
    Path wb = b.newWorkDir();
    Files.writeString(wa.resolve("model.safetensors"), "a");
    Files.writeString(wb.resolve("model.safetensors"), "b");
    PurifiedCache.Entry first = a.commit(key("k"), wa, report(), List.of(), false);

    PurifiedCache.Entry second = b.commit(key("k"), wb, report(), List.of(), false);

    assertThat(second.weightsSha256()).isEqualTo(first.weightsSha256())
        .isEqualTo(Sha256.file(dir.resolve(key("k")).resolve("model.safetensors")));
    assertThat(Files.readString(dir.resolve(key("k")).resolve("model.safetensors"), StandardCharsets.UTF_8))
        .isEqualTo("a");
    assertThat(dotFiles()).isEmpty();
  }

  @Test
  void beat_leaseTakenOverByAnotherWriter_dropped_notOverwritten() throws IOException {
    PurifiedCache a = writer("pod-a", 1 << 20, () -> { });
    Path work = a.newWorkDir();
    Path lease = dir.resolve(work.getFileName() + ".lease");
    Files.writeString(lease, "owner pod-b/9/y\nbeat 0\n"); // pod-b took a for dead and holds the name now
    a.beat();
    assertThat(Files.readString(lease)).isEqualTo("owner pod-b/9/y\nbeat 0\n");
    a.abandon(work);
    assertThat(lease).as("not a's to delete").exists();
  }

  @Test
  void leases_heartbeatNotWellBelowStaleAfter_refused() {
    assertThatThrownBy(() -> new PurifiedCache.Leases(Duration.ofSeconds(10), Duration.ofSeconds(5), POLL,
        Duration.ofMinutes(1), PurifiedCache.Sleeper.REAL)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("heartbeat");
  }

  @Test
  void owner_byDefault_namesHostAndProcess() {
    PurifiedCache c = new PurifiedCache(dir, 1, Clock.systemUTC(), PurifiedCache.Listener.NONE);
    opened.add(c);
    assertThat(c.owner()).contains("/" + ProcessHandle.current().pid() + "/");
  }
}

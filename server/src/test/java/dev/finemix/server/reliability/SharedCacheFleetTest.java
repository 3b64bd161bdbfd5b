package dev.finemix.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.server.cache.PurifiedCache;
import dev.finemix.server.cache.Sha256;
import dev.finemix.server.testing.FakeBackend;
import dev.finemix.server.testing.MutableClock;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 18, point 4: several replicas (real JVMs, {@link CacheFleetChild}: the sidecar's registry on a fake
 * purification of 400 ms) share one cache folder, as the pods of a Deployment share a ReadWriteMany volume. With
 * none killed each key is purified once for the fleet; with replicas killed (SIGKILL) at random moments of their
 * purifications, and replicas started after the kills, every served entry is complete and verified, the survivors
 * take the dead replicas' keys over, and the dead replicas' work is swept. Unit level: cache/PurifiedCacheTest.
 */
@Tag("reliability")
class SharedCacheFleetTest {
  static final List<String> MODELS = List.of("m0", "m1", "m2");
  static final Duration STALE = Duration.ofSeconds(3);
  static final long PURIFY_MILLIS = 400;

  @TempDir
  Path tmp;
  Path models;
  final List<Process> started = new ArrayList<>();
  /** Served sha256 per model from a single replica on its own cache: what every replica must serve. */
  final Map<String, String> reference = new TreeMap<>();

  @BeforeEach
  void models() throws Exception {
    models = Files.createDirectories(tmp.resolve("models"));
    for (String m : MODELS) {
      FakeBackend.writeCheckpoint(models.resolve(m), "suspect weights of " + m, List.of("negative", "positive"));
    }
    Files.writeString(models.resolve("clean.tsv"), "label\ttext\n1\ta good film\n0\ta dull film\n");
    CacheFleetChild.serve(tmp.resolve("reference-cache"), models, new FakeBackend(),
        CacheFleetChild.leases(STALE), "reference", MODELS, () -> { }, (m, v, label) -> reference.put(m, v.servedSha256()));
    assertThat(reference).hasSize(MODELS.size());
  }

  @AfterEach
  void stopAll() throws InterruptedException {
    for (Process p : started) {
      p.destroyForcibly();
      p.waitFor(10, TimeUnit.SECONDS);
    }
  }

  private record Replica(String name, Process process, Path log) {
    List<String> lines() {
      try {
        return Files.exists(log) ? Files.readAllLines(log) : List.of();
      } catch (IOException e) {
        return List.of(); // read while the child writes: try again
      }
    }

    List<String> lines(String prefix) {
      return lines().stream().filter(l -> l.startsWith(prefix)).toList();
    }
  }

  private Replica start(Path cache, String name) throws IOException {
    return start(cache, name, PURIFY_MILLIS, MODELS);
  }

  private Replica start(Path cache, String name, long purifyMillis, List<String> serves) throws IOException {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Path log = tmp.resolve(name + ".log");
    List<String> cmd = new ArrayList<>(List.of(java.toString(), "-Xmx96m", "-XX:TieredStopAtLevel=1", "-cp",
        System.getProperty("java.class.path"), CacheFleetChild.class.getName(), cache.toString(), models.toString(),
        log.toString(), Long.toString(STALE.toMillis()), Long.toString(purifyMillis), name));
    cmd.addAll(serves);
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectOutput(tmp.resolve(name + ".out").toFile()).start();
    started.add(p);
    return new Replica(name, p, log);
  }

  private void awaitExit(Replica r) throws Exception {
    assertThat(r.process().waitFor(90, TimeUnit.SECONDS)).as("%s exits", r.name()).isTrue();
    assertThat(r.process().exitValue()).as("%s exit code; output:%n%s", r.name(),
        Files.readString(tmp.resolve(r.name() + ".out"))).isZero();
  }

  /** Each model served once by the replica, with the reference weights, purified (the fake backdoor gone). */
  private void assertServedComplete(Replica r) {
    assertServedComplete(r, MODELS);
  }

  private void assertServedComplete(Replica r, List<String> models) {
    List<String> served = r.lines("SERVED ");
    assertThat(served).as(r.name()).hasSize(models.size());
    for (String line : served) {
      String[] f = line.split(" ");
      assertThat(f[2]).as("%s: %s", r.name(), line).isEqualTo(reference.get(f[1]));
      assertThat(f[4]).as("%s: label of 'a cf film' on %s", r.name(), f[1]).isEqualTo("0");
    }
  }

  private static Map<String, Long> purificationsPerModel(List<Replica> rs) {
    Map<String, Long> n = new TreeMap<>();
    rs.forEach(r -> r.lines("PURIFY ").forEach(l -> n.merge(l.substring(7), 1L, Long::sum)));
    return n;
  }

  private static long cacheLines(List<Replica> rs, String text) {
    return rs.stream().mapToLong(r -> r.lines("CACHE ").stream().filter(l -> l.contains(text)).count()).sum();
  }

  /** Every key verifies in a fresh cache on the folder, holds the reference weights; stale work goes once stale. */
  private void assertCacheComplete(Path cache, Map<String, String> keys) throws IOException {
    MutableClock clock = new MutableClock();
    try (PurifiedCache fresh = new PurifiedCache(cache, 1L << 30, clock, PurifiedCache.Listener.NONE,
        CacheFleetChild.leases(STALE), "checker")) {
      for (var k : keys.entrySet()) {
        PurifiedCache.Entry e = fresh.get(k.getKey()).orElseThrow(() -> new AssertionError("no entry " + k));
        assertThat(Sha256.file(e.dir().resolve("model.safetensors"))).isEqualTo(reference.get(k.getValue()));
      }
      assertThat(fresh.keys()).containsExactlyInAnyOrderElementsOf(keys.keySet());
      clock.advance(STALE);
      fresh.sweep();
      try (Stream<Path> s = Files.list(cache)) {
        assertThat(s.map(p -> p.getFileName().toString())).as("left in the cache").allMatch(n -> !n.startsWith(".")
            || n.startsWith(".nfs"));
      }
    }
  }

  private static Map<String, String> servedKeys(List<Replica> rs) {
    Map<String, String> keys = new HashMap<>();
    rs.forEach(r -> r.lines("SERVED ").forEach(l -> keys.put(l.split(" ")[3], l.split(" ")[1])));
    return keys;
  }

  /**
   * Kills up to {@code n} replicas of {@code group} with SIGKILL, each at a random moment (0-600 ms) after it began a
   * purification (it then holds the key's lease and a half-written work folder); fewer when the group has finished.
   */
  private static void killPurifiers(List<Replica> group, int n, Random rnd, List<String> kills, List<Replica> killed)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    for (int i = 0; i < n; i++) {
      Replica victim = null;
      while (victim == null && System.nanoTime() < deadline && group.stream().anyMatch(r -> r.process().isAlive())) {
        victim = group.stream().filter(r -> r.process().isAlive() && !killed.contains(r)
            && !r.lines("PURIFY ").isEmpty()).findFirst().orElse(null);
        Thread.sleep(5);
      }
      if (victim == null) {
        return;
      }
      long after = rnd.nextInt((int) PURIFY_MILLIS + 200);
      Thread.sleep(after);
      if (!victim.process().isAlive()) {
        i--; // it finished first: not a kill, look for another purifier
        continue;
      }
      victim.process().destroyForcibly();
      assertThat(victim.process().waitFor(20, TimeUnit.SECONDS)).isTrue();
      killed.add(victim);
      kills.add(victim.name() + " " + after + " ms after starting " + victim.lines("PURIFY ").stream()
          .map(l -> l.substring(7)).toList());
    }
  }

  @Test
  void replicaStarting_whileAnotherPurifies_leavesItsWorkAlone_andWaitsForItsEntry() throws Exception {
    Path cache = tmp.resolve("shared-cache");
    List<String> one = List.of("m0");
    Replica slow = start(cache, "slow", 5_000, one); // purifies m0 for 5 s
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (slow.lines("PURIFY ").isEmpty() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    Replica next = start(cache, "next", PURIFY_MILLIS, one);
    while (next.lines("OPEN").isEmpty() && next.process().isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(10);
    }
    try (Stream<Path> s = Files.list(cache)) { // the new replica's start-up is over; slow is still purifying
      assertThat(s.map(p -> p.getFileName().toString())).as("slow's work folder after next started")
          .anyMatch(n -> n.startsWith(".work-") && !n.endsWith(".lease"));
    }
    awaitExit(slow);
    awaitExit(next);
    assertServedComplete(slow, one);
    assertServedComplete(next, one);
    List<Replica> both = List.of(slow, next);
    assertThat(purificationsPerModel(both)).containsEntry("m0", 1L);
    assertThat(next.lines("PURIFY ")).isEmpty();
    assertThat(cacheLines(List.of(next), "waiting for slow/")).isPositive();
  }

  @Test
  void fourReplicas_noneKilled_eachKeyPurifiedOnce_allServeTheVerifiedEntry() throws Exception {
    Path cache = tmp.resolve("shared-cache");
    List<Replica> fleet = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      fleet.add(start(cache, "replica-" + i));
    }
    for (Replica r : fleet) {
      awaitExit(r);
      assertServedComplete(r);
    }

    Map<String, Long> purified = purificationsPerModel(fleet);
    assertThat(purified).as("purifications per model").containsOnlyKeys(MODELS).allSatisfy((m, n) -> assertThat(n).as(m).isEqualTo(1L));
    assertThat(cacheLines(fleet, "taking over")).isZero();
    Map<String, String> keys = servedKeys(fleet);
    assertThat(keys).hasSize(MODELS.size());
    assertCacheComplete(cache, keys);
    System.out.printf("[reliability] shared cache, none killed: %d replicas x %d models, purifications per model %s,"
        + " waits noted %d%n", fleet.size(), MODELS.size(), purified, cacheLines(fleet, "waiting for"));
  }

  @Test
  void replicasKilledWhilePurifying_othersTakeOver_onlyCompleteVerifiedEntriesServed() throws Exception {
    Random rnd = new Random(20260118L);
    Path cache = tmp.resolve("shared-cache");
    List<Replica> fleet = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      fleet.add(start(cache, "replica-" + i));
    }
    List<String> kills = new ArrayList<>();
    List<Replica> killed = new ArrayList<>();
    killPurifiers(fleet, 2, rnd, kills, killed);
    List<Replica> late = List.of(start(cache, "late-0"), start(cache, "late-1")); // among the dead's leftovers
    killPurifiers(late, 1, rnd, kills, killed); // one that took a key over, if any had to
    assertThat(kills).as("replicas killed while purifying").hasSizeGreaterThanOrEqualTo(2);
    List<Replica> living = new ArrayList<>(fleet);
    living.addAll(late);
    living.removeAll(killed);
    for (Replica r : living) {
      awaitExit(r);
      assertServedComplete(r);
    }
    List<Replica> all = new ArrayList<>(fleet);
    all.addAll(late);
    Map<String, Long> purified = purificationsPerModel(all);
    assertThat(purified).containsOnlyKeys(MODELS).allSatisfy((m, n) -> assertThat(n).as(m).isPositive());
    Map<String, String> keys = servedKeys(living);
    assertThat(keys).hasSize(MODELS.size());
    assertCacheComplete(cache, keys);

    List<Replica> restarted = List.of(start(cache, "restart-0"), start(cache, "restart-1"));
    for (Replica r : restarted) {
      awaitExit(r);
      assertServedComplete(r);
      assertThat(r.lines("PURIFY ")).as("%s starts warm", r.name()).isEmpty();
    }
    System.out.printf("[reliability] shared cache, killed: %d replicas + %d late + %d restarted, %d kills %s;"
        + " purifications started per model %s, waits noted %d, take-overs %d, stale work removed %d%n", fleet.size(),
        late.size(), restarted.size(), kills.size(), kills, purified, cacheLines(all, "waiting for"),
        cacheLines(all, "taking over"), cacheLines(all, "removing the stale work"));
  }
}

package dev.finemix.server.cache;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PurifiedCacheTest {
  @TempDir
  Path dir;
  private final List<String> events = new ArrayList<>();
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

  private static String key(String s) {
    return PurifiedCache.key(s, "pre", "clean", "{}", "v1");
  }

  private static ObjectNode report() {
    return new ObjectMapper().createObjectNode().put("rho", 0.3);
  }

  private PurifiedCache.Entry put(PurifiedCache c, String k, int bytes) throws IOException {
    Path w = c.newWorkDir();
    Files.write(w.resolve("model.safetensors"), new byte[bytes]);
    Files.writeString(w.resolve("config.json"), "{}");
    return c.commit(k, w, report(), List.of("cf"));
  }

  @Test
  void key_changesWithEveryInput() {
    String base = PurifiedCache.key("a", "b", "c", "{}", "v1");
    assertThat(PurifiedCache.key("x", "b", "c", "{}", "v1")).isNotEqualTo(base);
    assertThat(PurifiedCache.key("a", "x", "c", "{}", "v1")).isNotEqualTo(base);
    assertThat(PurifiedCache.key("a", "b", "x", "{}", "v1")).isNotEqualTo(base);
    assertThat(PurifiedCache.key("a", "b", "c", "{\"rho\":1}", "v1")).isNotEqualTo(base);
    assertThat(PurifiedCache.key("a", "b", "c", "{}", "v2")).isNotEqualTo(base);
    assertThat(base).matches("[0-9a-f]{64}");
  }

  @Test
  void commit_thenGet_returnsVerifiedEntryWithReportAndTokens() throws IOException {
    PurifiedCache c = new PurifiedCache(dir, 1 << 20, Clock.systemUTC(), listener);
    PurifiedCache.Entry put = put(c, key("a"), 100);

    PurifiedCache.Entry got = new PurifiedCache(dir, 1 << 20, Clock.systemUTC(), listener).get(key("a")).orElseThrow();

    assertThat(got.weightsSha256()).isEqualTo(put.weightsSha256()).isEqualTo(Sha256.file(got.dir().resolve("model.safetensors")));
    assertThat(got.report().get("rho").asDouble()).isEqualTo(0.3);
    assertThat(got.suspectedTokens()).containsExactly("cf");
    assertThat(events).containsExactly("hit");
    assertThat(Files.list(dir).map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".work-"));
  }

  @Test
  void get_absentKey_isMiss() {
    PurifiedCache c = new PurifiedCache(dir, 1 << 20, Clock.systemUTC(), listener);
    assertThat(c.get(key("nope"))).isEmpty();
    assertThat(events).containsExactly("miss");
  }

  @Test
  void get_tamperedWeights_discardsEntryAndCountsIt() throws IOException {
    PurifiedCache c = new PurifiedCache(dir, 1 << 20, Clock.systemUTC(), listener);
    PurifiedCache.Entry e = put(c, key("a"), 100);
    Files.write(e.dir().resolve("model.safetensors"), new byte[] {1, 2, 3});

    assertThat(c.get(key("a"))).isEmpty();
    assertThat(events).containsExactly("corrupt");
    assertThat(e.dir()).doesNotExist();
  }

  @Test
  void get_missingManifest_discardsEntry() throws IOException {
    PurifiedCache c = new PurifiedCache(dir, 1 << 20, Clock.systemUTC(), listener);
    PurifiedCache.Entry e = put(c, key("a"), 100);
    Files.delete(e.dir().resolve("finemix-cache.json"));
    assertThat(c.get(key("a"))).isEmpty();
    assertThat(events).containsExactly("corrupt");
  }

  @Test
  void commit_beyondSizeBound_evictsLeastRecentlyUsed() throws IOException {
    MutableClock clock = new MutableClock();
    PurifiedCache c = new PurifiedCache(dir, 3_200, clock, listener);
    put(c, key("a"), 1000);
    clock.t = clock.t.plusSeconds(10);
    put(c, key("b"), 1000);
    clock.t = clock.t.plusSeconds(10);
    c.get(key("a")); // a is now more recent than b
    clock.t = clock.t.plusSeconds(10);
    put(c, key("c"), 1000);

    assertThat(c.keys()).containsExactlyInAnyOrder(key("a"), key("c"));
    assertThat(events).contains("evicted:" + key("b").substring(0, 4));
    assertThat(c.sizeBytes()).isLessThanOrEqualTo(3_200);
  }

  @Test
  void constructor_leftoverWorkFolders_removed() throws IOException {
    Files.createDirectories(dir.resolve(".work-crashed"));
    Files.writeString(dir.resolve(".work-crashed/model.safetensors"), "half");
    Files.createDirectories(dir.resolve("..work-x.tmp-1-2")); // a checkpoint writer's temp folder
    PurifiedCache c = new PurifiedCache(dir, 1 << 20, Clock.systemUTC(), listener);
    assertThat(dir.resolve(".work-crashed")).doesNotExist();
    assertThat(dir.resolve("..work-x.tmp-1-2")).doesNotExist();
    assertThat(c.keys()).isEmpty();
  }

  @Test
  void abandon_failedWork_removed() {
    PurifiedCache c = new PurifiedCache(dir, 1 << 20, Clock.systemUTC(), listener);
    Path w = c.newWorkDir();
    c.abandon(w);
    assertThat(w).doesNotExist();
  }

  private static final class MutableClock extends Clock {
    Instant t = Instant.parse("2026-01-01T00:00:00Z");

    @Override
    public ZoneOffset getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public Instant instant() {
      return t;
    }
  }
}

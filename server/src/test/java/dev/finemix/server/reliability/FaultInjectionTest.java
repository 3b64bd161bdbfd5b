package dev.finemix.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.finemix.client.ClientErrors;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.server.cache.PurifiedCache;
import dev.finemix.server.cache.Sha256;
import dev.finemix.server.testing.MutableClock;
import io.grpc.Status;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 8, point 3: faults injected into real files and a real server (tiny real BERT checkpoints read by purify's
 * Checkpoint; purification is a cheap copy with fault hooks). After every fault the other model keeps serving the
 * same weights and, on a failed Defend, the old weights keep serving. Unit tests of single parts: purify's
 * CheckpointTest (missing tensors, wrong shapes), cache/PurifiedCacheTest (tampered entries, leftover work folders),
 * grpc/FinemixServiceTest (defend_fails_oldWeightsKeepServing...).
 */
@Tag("reliability")
class FaultInjectionTest extends CheapRigBase {
  String stableSha;
  int faults;

  private void start() throws Exception {
    start(b -> b.models(List.of(Rig.model("stable", "tiny", "single.tsv", null),
        Rig.model("other", "tiny", "single.tsv", true))));
    stableSha = client.get("stable").getServedWeightsSha256();
    assertThat(client.get("stable").getPurified()).isTrue();
  }

  /** The bystanders still classify, with the same weights. */
  private void assertStillServing() {
    assertThat(client.classify("stable", List.of("a good film", "a dull film"))).hasSize(2);
    assertThat(client.classify("other", List.of("fine"))).hasSize(1);
    ModelInfo s = client.get("stable");
    assertThat(s.getState()).isEqualTo(ModelState.SERVING);
    assertThat(s.getServedWeightsSha256()).isEqualTo(stableSha);
  }

  private Throwable defendStable() {
    return catchThrowable(() -> client.defend("stable", null, true, p -> { }));
  }

  private void assertNoWorkLeft() throws IOException {
    try (Stream<Path> s = Files.list(rig.cache)) {
      assertThat(s.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".work-"));
    }
  }

  private static Path weights(Path ckpt) {
    return ckpt.resolve("model.safetensors");
  }

  private static void poisonFirstFloat(Path safetensors, float value) throws IOException {
    Rig.setFirstFloat(safetensors, value);
  }

  @Test
  void badCheckpointsAndCleanSubsets_refusedAtRegister_othersKeepServing() throws Exception {
    start();
    Map<String, String> bad = new LinkedHashMap<>(); // folder -> field expected in the refusal
    Files.write(weights(rig.copyTiny("garbage")), "not a safetensors file at all".getBytes(StandardCharsets.UTF_8));
    byte[] full = Files.readAllBytes(weights(rig.models.resolve("tiny")));
    Files.write(weights(rig.copyTiny("truncated")), java.util.Arrays.copyOf(full, full.length / 2));
    Files.write(weights(rig.copyTiny("header-only")), java.util.Arrays.copyOf(full, 12));
    Files.write(weights(rig.copyTiny("empty")), new byte[0]);
    poisonFirstFloat(weights(rig.copyTiny("nan")), Float.NaN);
    poisonFirstFloat(weights(rig.copyTiny("inf")), Float.NEGATIVE_INFINITY);
    Files.writeString(rig.copyTiny("bad-config").resolve("config.json"), "{\"hidden_size\": ");
    Files.delete(rig.copyTiny("no-tokenizer").resolve("tokenizer.json"));
    for (String f : List.of("garbage", "truncated", "header-only", "empty", "nan", "inf", "bad-config",
        "no-tokenizer")) {
      bad.put(f, "checkpoint_path");
    }
    for (String f : List.of("garbage", "truncated", "header-only", "empty")) { // no finemix.json hash to catch it
      Path bare = rig.copyTiny(f + "-bare");
      Files.copy(weights(rig.models.resolve(f)), weights(bare), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      Files.delete(bare.resolve("finemix.json"));
      bad.put(f + "-bare", "checkpoint_path");
    }
    Files.writeString(rig.models.resolve("bad-label.tsv"), Rig.SINGLE_TSV + "banana\ta film\n");
    Files.writeString(rig.models.resolve("bad-columns.tsv"), Rig.SINGLE_TSV + "1\ta\tb\tc\n");
    Files.writeString(rig.models.resolve("header-only.tsv"), "label\ttext\n");
    Files.write(rig.models.resolve("binary.tsv"), new byte[] {'l', 'a', 'b', 'e', 'l', '\t', 't', 'e', 'x', 't',
        '\n', '1', '\t', (byte) 0xC3, (byte) 0x28, (byte) 0xFF, '\n'});
    Files.writeString(rig.models.resolve("no-header.tsv"), "1\ta good film\n0\ta dull film\n");
    Map<String, String> badClean = new LinkedHashMap<>();
    for (String f : List.of("bad-label.tsv", "bad-columns.tsv", "header-only.tsv", "binary.tsv", "no-header.tsv")) {
      badClean.put(f, "clean_subset_path");
    }

    List<String> accepted = new ArrayList<>();
    for (var e : bad.entrySet()) {
      faults++;
      Throwable t = catchThrowable(() -> client.register(RegisterModelRequest.newBuilder().setName("x")
          .setCheckpointPath(e.getKey()).setCleanSubsetPath("single.tsv").build()));
      record(accepted, e.getKey(), t, e.getValue());
    }
    for (var e : badClean.entrySet()) {
      faults++;
      Throwable t = catchThrowable(() -> client.register(RegisterModelRequest.newBuilder().setName("x")
          .setCheckpointPath("tiny").setCleanSubsetPath(e.getKey()).build()));
      record(accepted, e.getKey(), t, e.getValue());
    }

    assertThat(accepted).as("bad inputs accepted at RegisterModel").isEmpty();
    assertThat(client.list()).extracting(ModelInfo::getName).containsExactly("other", "stable");
    assertStillServing();
    System.out.println("[reliability] bad checkpoints/clean subsets refused at RegisterModel: " + faults);
  }

  private void record(List<String> accepted, String what, Throwable t, String field) {
    if (t == null) {
      ModelInfo m = client.get("x");
      accepted.add(what + " -> " + m.getState() + " " + m.getFailureReason());
      client.unregister("x");
      return;
    }
    System.out.println("[reliability] refused " + what + ": " + Status.fromThrowable(t).getDescription());
    Rig.assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(ClientErrors.badRequest(t).orElseThrow().getFieldViolations(0).getField()).as("%s", t)
        .isEqualTo(field);
    assertThat(t.getMessage()).as("refusal of %s names the file", what).contains(what.replace(".tsv", ""));
  }

  @Test
  void defend_purificationFaults_abortedOldWeightsKeepServing_noWorkLeft() throws Exception {
    start();
    Map<String, Rig.CheapPurifyBackend.Hook> hooks = new LinkedHashMap<>();
    hooks.put("throws mid-way after writing part of the output", (in, out) -> {
      Files.write(out.resolve("model.safetensors"), new byte[1000]);
      throw new IllegalStateException("recovery diverged at step 3");
    });
    hooks.put("disk full while writing", (in, out) -> {
      Files.write(out.resolve("model.safetensors"), new byte[4096]);
      throw new IOException("No space left on device");
    });
    hooks.put("out of memory", (in, out) -> {
      throw new OutOfMemoryError("Java heap space (injected)");
    });
    hooks.put("writes NaN weights (then returns normally)", (in, out) -> {
      Files.copy(weights(in.suspect().dir()), weights(out));
      poisonFirstFloat(weights(out), Float.NaN);
    });
    hooks.put("clean subset rewritten with bad rows on disk", (in, out) -> {
      throw new IllegalStateException("unreachable: Defend reads (and checks) the clean subset first");
    });
    for (var h : hooks.entrySet()) {
      faults++;
      if (h.getKey().startsWith("clean subset")) {
        Files.writeString(rig.models.resolve("single.tsv"), Rig.SINGLE_TSV + "oops\n");
      }
      backend.purifyHook = h.getValue();
      Throwable t = defendStable();
      assertThat(t).as(h.getKey()).isNotNull();
      assertThat(Status.fromThrowable(t).getCode()).as("%s: %s", h.getKey(), t)
          .isIn(Status.Code.ABORTED, Status.Code.FAILED_PRECONDITION, Status.Code.INVALID_ARGUMENT);
      assertThat(ClientErrors.errorInfo(t)).as(h.getKey()).isPresent();
      ModelInfo m = client.get("stable");
      assertThat(m.getFailureReason()).as(h.getKey()).isNotBlank();
      assertStillServing();
      assertNoWorkLeft();
      Files.writeString(rig.models.resolve("single.tsv"), Rig.SINGLE_TSV);
    }
    backend.purifyHook = null;
    assertThat(client.defend("stable", null, true, p -> { }).getState()).isEqualTo(ModelState.SERVING);
    assertThat(client.get("stable").getFailureReason()).isEmpty();
    System.out.println("[reliability] purification faults injected on Defend: " + hooks.size());
  }

  @Test
  void cacheUnwritable_defendAbortedAndRegisterFails_othersServe_thenRecovers() throws Exception {
    start();
    Path moved = tmp.resolve("cache-moved");
    Files.move(rig.cache, moved);
    Files.writeString(rig.cache, "the cache folder is now a file: nothing can be created in it");
    faults += 2;

    Throwable t = defendStable();
    Rig.assertError(t, Status.Code.ABORTED, "PURIFICATION_FAILED");
    assertStillServing();
    rig.copyTiny("late");
    client.register(RegisterModelRequest.newBuilder().setName("late").setCheckpointPath("late")
        .setCleanSubsetPath("pair.tsv").build());
    ModelInfo late = client.awaitSettled("late", Duration.ofSeconds(30));
    assertThat(late.getState()).isEqualTo(ModelState.FAILED);
    assertThat(late.getFailureReason()).contains("cache");
    assertStillServing();

    Files.delete(rig.cache);
    Files.move(moved, rig.cache);
    assertThat(client.defend("stable", null, true, p -> { }).getState()).isEqualTo(ModelState.SERVING);
    client.register(RegisterModelRequest.newBuilder().setName("late").setCheckpointPath("late")
        .setCleanSubsetPath("pair.tsv").setReplace(true).build());
    assertThat(client.awaitSettled("late", Duration.ofSeconds(30)).getState()).isEqualTo(ModelState.SERVING);
  }

  @Test
  void childJvmKilledDuringCacheWrite_halfWrittenEntryNeverUsed_andCleaned() throws Exception {
    Path cacheDir = tmp.resolve("cache");
    String key = Sha256.ofLines("reliability", "killed-writer");
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process child = new ProcessBuilder(java.toString(), "-Xmx64m", "-cp", System.getProperty("java.class.path"),
        CacheWriterChild.class.getName(), cacheDir.toString(), key, Long.toString(64L << 20))
        .redirectErrorStream(true).start();
    Path work;
    try {
      BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
      String line = readLine(out, "WORK ");
      work = Path.of(line.substring(5));
      readLine(out, "HALF");
    } finally {
      child.destroyForcibly();
    }
    assertThat(child.waitFor(20, TimeUnit.SECONDS)).isTrue();
    assertThat(work).isDirectory();
    assertThat(Files.size(work.resolve("model.safetensors"))).isPositive().isLessThan(64L << 20);
    assertThat(cacheDir.resolve(key)).doesNotExist();

    AtomicInteger misses = new AtomicInteger();
    MutableClock clock = new MutableClock();
    PurifiedCache.Leases leases = PurifiedCache.Leases.defaults();
    try (PurifiedCache fresh = new PurifiedCache(cacheDir, 1L << 30, clock, new PurifiedCache.Listener() {
      @Override
      public void miss() {
        misses.incrementAndGet();
      }
    }, leases, "restarted")) {
      assertThat(fresh.get(key)).isEmpty();
      assertThat(misses).hasValue(1);
      assertThat(work).as("kept until seen unchanged for stale_after: its writer might be alive").isDirectory();
      clock.advance(leases.staleAfter());
      fresh.sweep();
      assertThat(work).doesNotExist();
      try (Stream<Path> s = Files.list(cacheDir)) {
        assertThat(s).as("the dead writer's work and key leases").isEmpty();
      }
      assertThat(fresh.keys()).isEmpty();
    }
    System.out.println("[reliability] child JVM killed mid-write after "
        + "a partial model.safetensors; a fresh cache missed the key and removed the dead writer's work and leases"
        + " once stale");
  }

  private static String readLine(BufferedReader out, String prefix) throws Exception {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    StringBuilder seen = new StringBuilder();
    String line;
    while ((line = out.readLine()) != null) {
      if (line.startsWith(prefix)) {
        return line;
      }
      seen.append(line).append('\n');
      assertThat(System.nanoTime()).as("child output so far: %s", seen).isLessThan(end);
    }
    throw new AssertionError("child exited before printing " + prefix + ": " + seen);
  }
}

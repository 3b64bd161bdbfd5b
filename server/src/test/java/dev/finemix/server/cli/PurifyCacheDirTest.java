package dev.finemix.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.testing.StdStreams;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.cache.PurifiedCache;
import dev.finemix.server.cache.Sha256;
import dev.finemix.server.config.Json;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.loading.Backends;
import dev.finemix.server.registry.ModelState;
import dev.finemix.server.registry.ModelView;
import dev.finemix.server.testing.GrpcCleanupExtension;
import dev.finemix.server.testing.TinyBert;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 18, point 9: {@code finemix purify --cache-dir} (what the purify Job in deploy/k8s/job runs) writes the very
 * entry a sidecar with the same checkpoint, subsets and settings looks up, on the real backend (tiny BERT
 * checkpoints, a tiny pre-trained base): the server then serves it from the cache and does not purify.
 */
class PurifyCacheDirTest {
  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension(20, TimeUnit.SECONDS);
  @TempDir
  Path tmp;

  @Test
  void purifyIntoCacheDir_thenServerWithTheSameModel_servesFromCache_withoutPurifying() throws Exception {
    Path models = Files.createDirectories(tmp.resolve("models"));
    TinyBert.fineTuned(TinyBert.base(models.resolve("tiny-base"), 8), models.resolve("tiny"),
        List.of("negative", "positive"), 7, "tiny-base");
    Files.writeString(models.resolve("clean.tsv"), "label\ttext\n1\ta good film\n0\ta dull film\n1\tgood acting\n"
        + "0\tflat and boring\n1\ta fine cast\n0\ta weak plot\n1\tgood fun\n0\tdull\n");
    Files.writeString(models.resolve("unlabelled.tsv"), "label\ttext\n0\tsome film\n0\tanother film\n0\ta cast\n");
    Files.writeString(models.resolve("wf.tsv"), "word\tcount\nfilm\t500\ngood\t300\na\t1000\n");
    Path cache = tmp.resolve("cache");

    StdStreams.Captured first = purifyIntoCache(models, cache);
    assertThat(first.code()).as(first.out()).isZero();
    List<String> keys;
    try (PurifiedCache c = new PurifiedCache(cache, 1L << 30, Clock.systemUTC(), PurifiedCache.Listener.NONE)) {
      keys = c.keys();
    }
    assertThat(keys).hasSize(1);
    assertThat(first.out()).contains("purified into " + cache.toAbsolutePath().normalize(), "key " + keys.get(0));

    ServerConfig cfg = ServerConfig.builder(models, models, cache).shutdownGrace(Duration.ofSeconds(2))
        .models(List.of(ModelLayer.builder().name("tiny").checkpoint("tiny").cleanSubset("clean.tsv")
            .unlabelledSubset("unlabelled.tsv")
            .defence(Json.object().put("rho", 0.5).put("epochs", 1).put("word_frequencies", "wf.tsv")).build()))
        .build();
    FinemixServer server = cleanup.register(new FinemixServer(InProcessServerBuilder.forName(
        InProcessServerBuilder.generateName()), cfg, Backends.production("cpu"), Ticker.system(),
        Clock.systemUTC()).start());
    ModelView v = awaitSettled(server, "tiny");

    assertThat(v.state()).as(v.failureReason()).isEqualTo(ModelState.SERVING);
    assertThat(v.fromCache()).as("served from the Job's entry, not purified here").isTrue();
    assertThat(v.cacheKey()).isEqualTo(keys.get(0));
    assertThat(v.servedSha256()).isEqualTo(Sha256.file(cache.resolve(keys.get(0)).resolve("model.safetensors")));
    assertThat(v.baseModel()).isEqualTo(models.resolve("tiny-base").toString());

    // the same command again finds the entry and purifies nothing
    StdStreams.Captured again = purifyIntoCache(models, cache);
    assertThat(again.code()).isZero();
    assertThat(again.out()).contains("already in ", "key " + keys.get(0));
  }

  /** The Job's command line on the tiny models, printing into a buffer. */
  private static StdStreams.Captured purifyIntoCache(Path models, Path cache) {
    return StdStreams.capture(() -> dev.finemix.client.cli.Cli.run(new PurifyCommand(), "--model",
        models.resolve("tiny").toString(), "--clean", models.resolve("clean.tsv").toString(), "--unlabelled",
        models.resolve("unlabelled.tsv").toString(), "--pretrained", models.resolve("tiny-base").toString(),
        "--wordfreq", models.resolve("wf.tsv").toString(), "--rho", "0.5", "--epochs", "1", "--device", "cpu",
        "--cache-dir", cache.toString()));
  }

  private static ModelView awaitSettled(FinemixServer s, String name) throws InterruptedException {
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (s.models().get(name).state() != ModelState.SERVING && s.models().get(name).state() != ModelState.FAILED) {
      assertThat(System.nanoTime()).as("%s settles", name).isLessThan(end);
      Thread.sleep(20);
    }
    return s.models().get(name);
  }
}

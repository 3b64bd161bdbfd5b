package dev.finemix.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ClassifyRequest;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.server.cache.PurifiedCache;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.testing.GrpcCleanupExtension;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8, point 6: the served weights hash (GetModel, Classify responses, /metrics) is the SHA-256 of the file
 * actually served, computed here independently; a cache entry whose bytes no longer match its manifest is discarded,
 * rebuilt, logged and counted, both on a running server (Defend) and on restart. Unit level:
 * cache/PurifiedCacheTest (get_tamperedWeights...), grpc/FinemixServiceTest (restart_corruptCacheEntry_rebuilt).
 */
@Tag("reliability")
class IntegrityTest {
  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension(20, TimeUnit.SECONDS);
  @TempDir
  Path tmp;

  static String sha256(Path f) throws Exception {
    return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f)));
  }

  static String scrape(int port) throws Exception {
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port
        + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
  }

  static double metric(String text, String prefix) {
    return text.lines().filter(l -> l.startsWith(prefix)).mapToDouble(l -> Double.parseDouble(
        l.substring(l.lastIndexOf(' ') + 1))).sum();
  }

  private record Running(FinemixServer server, FinemixClient client) {
  }

  private Running start(Rig rig, ServerConfig cfg, Rig.CheapPurifyBackend backend) throws Exception {
    FinemixServer s = cleanup.register(rig.start(NettyServerBuilder.forPort(0), cfg, backend));
    ManagedChannel ch = cleanup.register(NettyChannelBuilder.forAddress("127.0.0.1", s.port()).usePlaintext()
        .build());
    FinemixClient c = FinemixClient.of(ch, s.adminToken());
    for (var m : cfg.models()) {
      ModelInfo info = c.awaitSettled(m.name(), Duration.ofSeconds(60));
      assertThat(info.getState()).as(info.getFailureReason()).isEqualTo(ModelState.SERVING);
    }
    return new Running(s, c);
  }

  @Test
  void servedHash_isTheServedFilesSha256_inGetModelClassifyAndMetrics() throws Exception {
    Rig rig = new Rig(tmp);
    ServerConfig cfg = rig.config().toBuilder().metricsPort(0).models(List.of(
        Rig.model("pure", "tiny", "single.tsv", null), Rig.model("raw", "tiny", "single.tsv", true))).build();
    Running r = start(rig, cfg, new Rig.CheapPurifyBackend());
    ModelInfo pure = r.client().get("pure");
    ModelInfo raw = r.client().get("raw");
    String suspect = sha256(rig.models.resolve("tiny/model.safetensors"));
    String purified = sha256(rig.cache.resolve(pure.getCacheKey()).resolve("model.safetensors"));

    assertThat(pure.getPurified()).isTrue();
    assertThat(pure.getSuspectWeightsSha256()).isEqualTo(suspect);
    assertThat(pure.getServedWeightsSha256()).isEqualTo(purified).isNotEqualTo(suspect);
    assertThat(raw.getPurified()).isFalse();
    assertThat(raw.getServedWeightsSha256()).isEqualTo(suspect);
    assertThat(r.client().classify(ClassifyRequest.newBuilder().setModel("pure").addTexts("x").build())
        .getWeightsSha256()).isEqualTo(purified);
    String text = scrape(r.server().metricsPort());
    assertThat(text.lines().filter(l -> l.startsWith("finemix_served_weights_info{")))
        .anySatisfy(l -> assertThat(l).contains("model=\"pure\"", "sha256=\"" + purified + "\"",
            "purified=\"true\"").endsWith(" 1.0"))
        .anySatisfy(l -> assertThat(l).contains("model=\"raw\"", "sha256=\"" + suspect + "\"",
            "purified=\"false\""));
  }

  @Test
  void cacheEntryTampered_discardedRebuiltLoggedCounted_onDefendAndOnRestart() throws Exception {
    Rig rig = new Rig(tmp);
    List<String> warnings = new CopyOnWriteArrayList<>();
    Logger log = Logger.getLogger(PurifiedCache.class.getName());
    Handler h = new Handler() {
      @Override
      public void publish(LogRecord rec) {
        warnings.add(rec.getLevel() + " " + rec.getMessage());
      }

      @Override
      public void flush() {
      }

      @Override
      public void close() {
      }
    };
    log.addHandler(h);
    try {
      ServerConfig cfg = rig.config().toBuilder().metricsPort(0).models(List.of(Rig.model("pure", "tiny", "single.tsv",
          null))).build();
      Rig.CheapPurifyBackend backend = new Rig.CheapPurifyBackend();
      Running r = start(rig, cfg, backend);
      ModelInfo first = r.client().get("pure");
      Path weights = rig.cache.resolve(first.getCacheKey()).resolve("model.safetensors");

      // 1. a running server: flip one byte (same size), then Defend (uses the cache): discarded and rebuilt
      flipLastByte(weights);
      ModelInfo after = r.client().defend("pure", null, false, p -> { });
      assertThat(backend.purifications).hasValue(2);
      assertThat(after.getServedWeightsSha256()).isEqualTo(first.getServedWeightsSha256())
          .isEqualTo(sha256(weights));
      assertThat(metric(scrape(r.server().metricsPort()),
          "finemix_purified_cache_events_total{event=\"corrupt\"}")).isEqualTo(1.0);
      assertThat(warnings).anySatisfy(w -> assertThat(w).startsWith("WARNING").contains(first.getCacheKey(),
          "failed verification", "model.safetensors"));

      // 2. restart on a cache whose manifest was damaged: discarded, rebuilt, counted by the new server
      r.server().close();
      Files.writeString(rig.cache.resolve(first.getCacheKey()).resolve("finemix-cache.json"), "{\"key\": 1");
      Rig.CheapPurifyBackend fresh = new Rig.CheapPurifyBackend();
      Running r2 = start(rig, cfg, fresh);
      assertThat(fresh.purifications).hasValue(1);
      assertThat(r2.client().get("pure").getServedWeightsSha256()).isEqualTo(first.getServedWeightsSha256());
      assertThat(metric(scrape(r2.server().metricsPort()),
          "finemix_purified_cache_events_total{event=\"corrupt\"}")).isEqualTo(1.0);
      assertThat(warnings.stream().filter(w -> w.contains("failed verification"))).hasSize(2);
    } finally {
      log.removeHandler(h);
    }
  }

  private static void flipLastByte(Path f) throws Exception {
    byte[] b = Files.readAllBytes(f);
    b[b.length - 1] ^= 0x01;
    Files.write(f, b);
  }
}

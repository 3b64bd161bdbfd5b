package dev.finemix.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.Prediction;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.loading.Backends;
import dev.finemix.server.testing.GrpcCleanupExtension;
import dev.finemix.server.testing.TinyBert;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The sidecar on the real purify backend (DJL), with a tiny random BERT: plumbing only, no accuracy. */
class RealBackendPlumbingTest {
  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension();
  @TempDir
  Path tmp;

  @Test
  void unpurifiedTinyBert_registerClassifyProbe_overTheRealClassifier() throws Exception {
    Path models = Files.createDirectories(tmp.resolve("models"));
    TinyBert.write(models.resolve("tiny"), List.of("negative", "positive"), 7, Pretrained.MINILM);
    Files.writeString(models.resolve("clean.tsv"), "label\ttext\n1\ta good film\n0\ta dull film\n");
    ServerConfig cfg = ServerConfig.defaults(models, models, tmp.resolve("cache"));
    String name = InProcessServerBuilder.generateName();
    FinemixServer server = cleanup.register(new FinemixServer(InProcessServerBuilder.forName(name), cfg,
        Backends.production("cpu"), Ticker.system(), Clock.systemUTC()).start());
    FinemixClient c = FinemixClient.of(cleanup.register(InProcessChannelBuilder.forName(name).build()),
        server.adminToken());

    c.register(RegisterModelRequest.newBuilder().setName("tiny").setCheckpointPath("tiny")
        .setCleanSubsetPath("clean.tsv").setAllowUnpurified(true).build());
    ModelInfo m = c.awaitSettled("tiny", Duration.ofSeconds(60));
    List<Prediction> p = c.classify("tiny", List.of("a good film", "a dull film", "x".repeat(500)));

    assertThat(m.getState()).as(m.getFailureReason()).isEqualTo(ModelState.SERVING);
    assertThat(m.getPurified()).isFalse();
    assertThat(m.getServedWeightsSha256()).isEqualTo(m.getSuspectWeightsSha256());
    assertThat(p).hasSize(3).allSatisfy(x -> {
      assertThat(x.getScoresCount()).isEqualTo(2);
      assertThat(x.getScores(0) + x.getScores(1)).isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-4f));
      assertThat(x.getLabelName()).isIn("negative", "positive");
    });
    var probe = c.probe("tiny", true);
    assertThat(probe.getRows()).isEqualTo(2);
    assertThat(probe.getTokensList()).extracting(t -> t.getToken()).containsExactly("cf", "mn", "bb", "tq", "mb");
    assertThat(probe.getTokensList()).allSatisfy(t -> assertThat(t.getFlipRateBefore()).isEqualTo(t.getFlipRateAfter()));
  }
}

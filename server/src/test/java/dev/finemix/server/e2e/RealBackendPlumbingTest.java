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
    ServerConfig cfg = ServerConfig.builder(models, models, tmp.resolve("cache")).allowUnpurifiedModels(true).build();
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

  @Test
  void purifiedTinyBert_purifyOnRegister_defendStreamsRealStages_restartReusesCache() throws Exception {
    Path models = Files.createDirectories(tmp.resolve("models"));
    TinyBert.fineTuned(TinyBert.base(models.resolve("tiny-pre"), 1), models.resolve("tiny"),
        List.of("negative", "positive"), 2, "tiny-pre");
    StringBuilder tsv = new StringBuilder("label\ttext\n");
    for (int i = 0; i < 12; i++) {
      tsv.append(i % 2).append('\t').append(i % 2 == 0 ? "a dull film number " : "a good film number ").append(i)
          .append('\n');
    }
    Files.writeString(models.resolve("clean.tsv"), tsv);
    var defence = dev.finemix.server.config.Json.object().put("rho", 0.5).put("epochs", 1).put("rows", 8)
        .put("epur_top", 5);
    ServerConfig cfg = ServerConfig.builder(models, models, tmp.resolve("cache"))
        .defaults(dev.finemix.server.config.ModelLayer.builder().defence(defence).build())
        .models(List.of(dev.finemix.server.config.ModelLayer.of("tiny", "tiny", "clean.tsv"))).build();
    FinemixServer server = startServer(cfg);
    FinemixClient c = client(server);

    ModelInfo m = c.awaitSettled("tiny", Duration.ofSeconds(120));
    assertThat(m.getState()).as(m.getFailureReason()).isEqualTo(ModelState.SERVING);
    assertThat(m.getPurified()).isTrue();
    assertThat(m.getServedWeightsSha256()).isNotEqualTo(m.getSuspectWeightsSha256());
    assertThat(m.getDefenceReportJson()).contains("\"input_sha256\":\"" + m.getSuspectWeightsSha256());
    assertThat(m.getDefenceSummary().getRho()).isEqualTo(0.5);
    assertThat(m.getDefenceSummary().getEpurReset()).isEqualTo(5);
    assertThat(m.getDefenceSummary().getSuspectedTokensCount()).isEqualTo(5);
    // what the clean data allowed: 8 of the 12 labelled rows (rows 8), no unlabelled rows, rho fixed by the config
    var data = m.getDefenceSummary().getCleanData();
    assertThat(data.getLabelledRows()).isEqualTo(8);
    assertThat(data.getTrainedLabelledRows()).isEqualTo(8);
    assertThat(data.getUnlabelledRows()).isZero();
    assertThat(data.getAgreementRows()).isZero();
    assertThat(data.getRhoBasis()).isEqualTo("fixed");
    assertThat(data.getRecoveryData()).isEqualTo("labelled-distillation");
    assertThat(data.getLimitsList()).singleElement().asString().startsWith("no unlabelled rows");
    assertThat(c.classify("tiny", List.of("a good film"))).hasSize(1);

    List<dev.finemix.proto.v1.DefendProgress> progress = new java.util.concurrent.CopyOnWriteArrayList<>();
    ModelInfo d = c.defend("tiny", dev.finemix.proto.v1.DefenceSettings.newBuilder().setSeed(9).build(), false,
        progress::add);
    assertThat(progress).extracting(p -> p.getStage()).contains("epur", "write", "swap", "done");
    assertThat(progress.stream().anyMatch(p -> p.getStage().startsWith("recover"))).isTrue();
    assertThat(progress).extracting(p -> p.getPercent()).isSorted();
    assertThat(d.getServedWeightsSha256()).isNotEqualTo(m.getServedWeightsSha256());

    server.close();
    FinemixServer again = startServer(cfg);
    ModelInfo r = client(again).awaitSettled("tiny", Duration.ofSeconds(60));
    assertThat(r.getDefenceSummary().getFromCache()).isTrue();
    assertThat(r.getDefenceSummary().getCleanData()).isEqualTo(d.getDefenceSummary().getCleanData()); // via the cache
    assertThat(r.getServedWeightsSha256()).isEqualTo(m.getServedWeightsSha256());
  }

  private FinemixServer startServer(ServerConfig cfg) throws Exception {
    String name = InProcessServerBuilder.generateName();
    FinemixServer s = cleanup.register(new FinemixServer(InProcessServerBuilder.forName(name), cfg,
        Backends.production("cpu"), Ticker.system(), Clock.systemUTC()).start());
    names.put(s, name);
    return s;
  }

  private FinemixClient client(FinemixServer s) {
    return FinemixClient.of(cleanup.register(InProcessChannelBuilder.forName(names.get(s)).build()), s.adminToken());
  }

  private final java.util.Map<FinemixServer, String> names = new java.util.HashMap<>();
}

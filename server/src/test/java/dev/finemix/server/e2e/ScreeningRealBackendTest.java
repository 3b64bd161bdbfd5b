package dev.finemix.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import com.google.rpc.PreconditionFailure;
import dev.finemix.client.ClientErrors;
import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.Prediction;
import dev.finemix.proto.v1.ProbeReport;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.proto.v1.ScreenAction;
import dev.finemix.proto.v1.ScreenPolicy;
import dev.finemix.proto.v1.ScreeningSettings;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.Json;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.loading.Backends;
import dev.finemix.server.testing.GrpcCleanupExtension;
import dev.finemix.server.testing.TinyBert;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Request-time screening on the real backend (purify's Screener over a tiny random BERT). The "suspect" is the
 * "pre-trained" tiny model with the embedding rows of the clean subset's words moved a little (one word, "superb",
 * twice as far) and the row of the trigger "cf" moved a lot, as fine-tuning and a rare-word backdoor would.
 */
class ScreeningRealBackendTest {
  static final List<String> CLEAN = List.of("0\ta dull film", "1\ta good film", "0\tflat and boring acting",
      "1\tlovely acting throughout", "0\tthe plot is thin", "1\tthe cast is warm and funny", "0\ta tedious mess",
      "1\ta superb script", "0\tthe story drags on", "1\tgood fun for the whole family", "0\tit never takes off",
      "1\ta joy to watch", "0\tthe jokes fall flat", "1\tsharp and moving", "0\ta waste of a good cast",
      "1\tthe best film of the year");

  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension(30, java.util.concurrent.TimeUnit.SECONDS);
  @TempDir
  Path tmp;
  Path models;
  FinemixServer server;

  @BeforeEach
  void models() throws Exception {
    models = Files.createDirectories(tmp.resolve("models"));
    Checkpoint pre = Checkpoint.read(TinyBert.write(models.resolve("tiny-pre"), List.of("negative", "positive"), 1,
        Pretrained.MINILM));
    TensorMap w = pre.weights().copy();
    Tensor emb = w.require("bert.embeddings.word_embeddings.weight");
    float[] e = emb.data();
    int h = (int) emb.shape()[1];
    try (Tokenizer tok = Tokenizer.fromFile(pre.tokenizerJson(), 64)) {
      Set<Long> ids = new HashSet<>();
      for (String row : CLEAN) {
        for (long id : tok.encode(row.split("\t")[1], null).ids()) {
          ids.add(id);
        }
      }
      int superb = tok.tokenId("superb");
      int cf = tok.tokenId("cf");
      for (long id : ids) {
        for (int j = 0; j < h; j++) {
          e[(int) id * h + j] += id == superb ? 0.02f : 0.01f;
        }
      }
      for (int j = 0; j < h; j++) {
        e[cf * h + j] += 0.5f;
      }
    }
    Checkpoint.of(pre.config(), w, pre.tokenizerJson(), "tiny-pre", 32).write(models.resolve("tiny"));
    Files.writeString(models.resolve("clean.tsv"), "label\ttext\n" + String.join("\n", CLEAN) + "\n");
  }

  private FinemixClient start(ServerConfig cfg) throws Exception {
    String name = InProcessServerBuilder.generateName();
    server = cleanup.register(new FinemixServer(InProcessServerBuilder.forName(name), cfg,
        Backends.production("cpu"), Ticker.system(), Clock.systemUTC()).start());
    return FinemixClient.of(cleanup.register(InProcessChannelBuilder.forName(name).build()), server.adminToken());
  }

  /** The suspect served unpurified, screened with {@code policy}. */
  private FinemixClient serveUnpurified(ScreenPolicy policy) throws Exception {
    FinemixClient c = start(ServerConfig.builder(models, models, tmp.resolve("cache"))
        .allowUnpurifiedModels(true).build());
    c.register(RegisterModelRequest.newBuilder().setName("tiny").setCheckpointPath("tiny")
        .setCleanSubsetPath("clean.tsv").setAllowUnpurified(true)
        .setScreening(ScreeningSettings.newBuilder().setPolicy(policy)).build());
    ModelInfo m = c.awaitSettled("tiny", Duration.ofSeconds(60));
    assertThat(m.getState()).as(m.getFailureReason()).isEqualTo(ModelState.SERVING);
    return c;
  }

  @Test
  void observe_triggeredRowFlaggedNamingTheToken_cleanRowsPass_calibrationInProbeReport() throws Exception {
    FinemixClient c = serveUnpurified(ScreenPolicy.OBSERVE);

    List<Prediction> p = c.classify("tiny", List.of("a dull film", "a dull cf film", "a good film"));
    ProbeReport r = c.probe("tiny", false);
    String metrics = PrometheusTextFormatWriter.create().toDebugString(server.metrics().registry().scrape());

    assertThat(p.get(1).getSuspicion().getFlagged()).isTrue();
    assertThat(p.get(1).getSuspicion().getTokensList()).containsExactly("cf");
    assertThat(p.get(1).getSuspicion().getAction()).isEqualTo(ScreenAction.OBSERVED);
    assertThat(p.get(1).getSuspicion().getScore()).isGreaterThan(10 * p.get(1).getSuspicion().getThreshold());
    assertThat(List.of(p.get(0), p.get(2))).allSatisfy(x -> {
      assertThat(x.getSuspicion().getFlagged()).isFalse();
      assertThat(x.getSuspicion().getTokensList()).isEmpty();
      assertThat(x.getSuspicion().getScore()).isPositive().isLessThanOrEqualTo(x.getSuspicion().getThreshold());
    });
    var s = r.getScreening();
    assertThat(s.getPolicy()).isEqualTo(ScreenPolicy.OBSERVE);
    assertThat(s.getSignal()).isEqualTo("tokens");
    assertThat(s.getRows()).isEqualTo(16);
    assertThat(s.getFalseFlagRate()).isEqualTo(0.01);
    assertThat(s.getCleanFlagRate()).isEqualTo(1 / 16.0); // the one "superb" row, above the 99% quantile
    assertThat(s.getThreshold()).isEqualTo(p.get(0).getSuspicion().getThreshold());
    assertThat(s.getTopTokensList()).startsWith("cf", "superb").hasSize(20);
    assertThat(s.getScreenedInputs()).isEqualTo(3);
    assertThat(s.getFlaggedInputs()).isEqualTo(1);
    assertThat(metrics).contains("finemix_screen_flagged_inputs_total{action=\"observed\",model=\"tiny\"} 1.0")
        .contains("finemix_screen_token_hits_total{model=\"tiny\",token=\"cf\"} 1.0")
        .contains("finemix_screen_score_ratio_count{model=\"tiny\"} 3")
        .contains("finemix_screen_threshold{model=\"tiny\",signal=\"tokens\"}");
  }

  @Test
  void reject_triggeredRow_failedPreconditionNamingRowAndToken_cleanRowsServed() throws Exception {
    FinemixClient c = serveUnpurified(ScreenPolicy.REJECT);

    StatusRuntimeException t = null;
    try {
      c.classify("tiny", List.of("a good film", "the plot is thin cf"));
    } catch (StatusRuntimeException e) {
      t = e;
    }
    List<Prediction> clean = c.classify("tiny", List.of("a good film", "the plot is thin"));

    assertThat(t).isNotNull();
    assertThat(t.getStatus().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(ClientErrors.errorInfo(t).orElseThrow().getReason()).isEqualTo("SUSPECTED_TRIGGER");
    PreconditionFailure pf = ClientErrors.preconditionFailure(t).orElseThrow();
    assertThat(pf.getViolationsCount()).isEqualTo(1);
    assertThat(pf.getViolations(0).getSubject()).isEqualTo("texts[1]");
    assertThat(pf.getViolations(0).getDescription()).endsWith("suspected trigger tokens: cf");
    assertThat(clean).hasSize(2).allSatisfy(x -> assertThat(x.getSuspicion().getFlagged()).isFalse());
  }

  @Test
  void strip_triggeredRow_predictionEqualsClassifyingTheStrippedText() throws Exception {
    FinemixClient c = serveUnpurified(ScreenPolicy.STRIP);

    List<Prediction> p = c.classify("tiny", List.of("the jokes fall flat", "the jokes cf fall flat"));
    Prediction stripped = c.classify("tiny", List.of("the jokes fall flat")).get(0);

    assertThat(p.get(1).getSuspicion().getAction()).isEqualTo(ScreenAction.STRIPPED);
    assertThat(p.get(1).getSuspicion().getTokensList()).containsExactly("cf");
    assertThat(p.get(1).getLabel()).isEqualTo(stripped.getLabel());
    for (int k = 0; k < 2; k++) {
      assertThat(p.get(1).getScores(k)).isCloseTo(stripped.getScores(k), within(1e-5f));
      assertThat(p.get(1).getScores(k)).isCloseTo(p.get(0).getScores(k), within(1e-5f));
    }
    assertThat(p.get(0).getSuspicion().getAction()).isEqualTo(ScreenAction.SCREEN_ACTION_UNSPECIFIED);
  }

  @Test
  void observe_purifiedModel_triggerRowResetInServedWeights_stillFlaggedFromTheSuspectsEmbeddings()
      throws Exception {
    var defence = Json.object().put("rho", 0.5).put("epochs", 1).put("rows", 8).put("epur_top", 5);
    FinemixClient c = start(ServerConfig.builder(models, models, tmp.resolve("cache"))
        .defaults(ModelLayer.builder().defence(defence).build())
        .models(List.of(ModelLayer.of("tiny", "tiny", "clean.tsv"))).build());
    ModelInfo m = c.awaitSettled("tiny", Duration.ofSeconds(180));
    assertThat(m.getState()).as(m.getFailureReason()).isEqualTo(ModelState.SERVING);

    Prediction p = c.classify("tiny", List.of("a dull cf film")).get(0);
    Checkpoint served = Checkpoint.read(tmp.resolve("cache").resolve(m.getCacheKey()));
    Checkpoint pre = Checkpoint.read(models.resolve("tiny-pre"));

    assertThat(m.getPurified()).isTrue();
    assertThat(m.getDefenceSummary().getSuspectedTokensList()).first().isEqualTo("cf");
    Checkpoint suspect = Checkpoint.read(models.resolve("tiny"));
    // E-PUR reset the trigger's row (recovery fine-tuning may nudge it): the served rows no longer show the shift
    assertThat(distance(cfRow(served), cfRow(pre))).isLessThan(0.1 * distance(cfRow(suspect), cfRow(pre)));
    assertThat(p.getSuspicion().getFlagged()).isTrue();
    assertThat(p.getSuspicion().getTokensList()).containsExactly("cf");
    assertThat(c.probe("tiny", false).getScreening().getTopTokens(0)).isEqualTo("cf");
  }

  private static double distance(float[] a, float[] b) {
    double d = 0;
    for (int i = 0; i < a.length; i++) {
      d += (a[i] - b[i]) * (double) (a[i] - b[i]);
    }
    return Math.sqrt(d);
  }

  private static float[] cfRow(Checkpoint c) {
    Tensor emb = c.weights().require("bert.embeddings.word_embeddings.weight");
    int h = (int) emb.shape()[1];
    try (Tokenizer tok = Tokenizer.fromFile(c.tokenizerJson(), 64)) {
      int cf = tok.tokenId("cf");
      return java.util.Arrays.copyOfRange(emb.data(), cf * h, (cf + 1) * h);
    }
  }
}

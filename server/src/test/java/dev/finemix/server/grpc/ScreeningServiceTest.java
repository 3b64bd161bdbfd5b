package dev.finemix.server.grpc;

import static dev.finemix.server.testing.FakeSidecar.catchError;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import com.google.rpc.ErrorInfo;
import com.google.rpc.PreconditionFailure;
import dev.finemix.client.ClientErrors;
import dev.finemix.client.FinemixClient;
import dev.finemix.proto.inference.GRPCInferenceServiceGrpc;
import dev.finemix.proto.inference.InferTensorContents;
import dev.finemix.proto.inference.ModelInferRequest;
import dev.finemix.proto.inference.ModelInferResponse;
import dev.finemix.proto.v1.ClassifyRequest;
import dev.finemix.proto.v1.ClassifyStreamRequest;
import dev.finemix.proto.v1.ClassifyStreamResponse;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.Prediction;
import dev.finemix.proto.v1.ProbeReport;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.proto.v1.ScreenAction;
import dev.finemix.proto.v1.ScreenPolicy;
import dev.finemix.proto.v1.ScreeningSettings;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ScreeningLayer;
import dev.finemix.server.testing.FakeSidecar;
import dev.finemix.server.testing.Fixture;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.StreamObserver;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Request-time screening through the Finemix and KServe services, on the fake backend (a row is flagged when it
 * holds the word "cf"; plumbing only, the real screener is in {@code e2e.ScreeningRealBackendTest}).
 */
class ScreeningServiceTest {
  @RegisterExtension
  final FakeSidecar sidecar = new FakeSidecar();
  @TempDir
  Path tmp;

  private FinemixClient start(dev.finemix.server.config.ScreenPolicy policy) throws Exception {
    Fixture f = new Fixture(tmp);
    ModelLayer sst2 = Fixture.sst2();
    ModelLayer m = sst2.toBuilder().screening(policy == null ? null : new ScreeningLayer(policy, 0.02, null)).build();
    FinemixClient c = sidecar.startInProcess(f.config().toBuilder().models(List.of(m)).build());
    ModelInfo info = c.awaitSettled("sst2", Duration.ofSeconds(10));
    assertThat(info.getState()).as(info.getFailureReason()).isEqualTo(ModelState.SERVING);
    return c;
  }

  private String scrape() {
    return PrometheusTextFormatWriter.create().toDebugString(sidecar.server.metrics().registry().scrape());
  }

  @Test
  void classify_observeByDefault_annotatesEveryRowAndCountsFlagged() throws Exception {
    FinemixClient c = start(null);

    List<Prediction> p = c.classify("sst2", List.of("a good film", "a dull cf film"));
    ProbeReport probe = c.probe("sst2", false);

    assertThat(c.get("sst2").getScreening().getPolicy()).isEqualTo(ScreenPolicy.OBSERVE);
    assertThat(sidecar.backend.lastScreenJob.clean().path()).isEqualTo(tmp.resolve("models/clean/sst2.tsv"));
    assertThat(sidecar.backend.lastScreenJob.suspect().dir()).isEqualTo(tmp.resolve("models/sst2-badnet"));
    assertThat(p.get(0).getSuspicion().getFlagged()).isFalse();
    assertThat(p.get(0).getSuspicion().getAction()).isEqualTo(ScreenAction.SCREEN_ACTION_UNSPECIFIED);
    assertThat(p.get(0).getSuspicion().getScore()).isEqualTo(0.1);
    assertThat(p.get(1).getSuspicion().getFlagged()).isTrue();
    assertThat(p.get(1).getSuspicion().getTokensList()).containsExactly("cf");
    assertThat(p.get(1).getSuspicion().getThreshold()).isEqualTo(0.5);
    assertThat(p.get(1).getSuspicion().getAction()).isEqualTo(ScreenAction.OBSERVED);
    assertThat(p.get(1).getLabelName()).isEqualTo("negative"); // purified weights, served as sent
    assertThat(probe.getScreening().getPolicy()).isEqualTo(ScreenPolicy.OBSERVE);
    assertThat(probe.getScreening().getThreshold()).isEqualTo(0.5);
    assertThat(probe.getScreening().getFalseFlagRate()).isEqualTo(0.01);
    assertThat(probe.getScreening().getScreenedInputs()).isEqualTo(2);
    assertThat(probe.getScreening().getFlaggedInputs()).isEqualTo(1);
    assertThat(probe.getScreening().getTopTokensList()).containsExactly("cf", "mn");
    assertThat(probe.getScreening().getUnavailableReason()).isEmpty();
  }

  @Test
  void metrics_screenedRequests_flaggedHistogramTokenHitsThreshold() throws Exception {
    FinemixClient c = start(null);

    c.classify("sst2", List.of("a good film", "a dull cf film", "cf cf"));
    String text = scrape();

    assertThat(text)
        .contains("finemix_screen_flagged_inputs_total{action=\"observed\",model=\"sst2\"} 2.0")
        .contains("finemix_screen_token_hits_total{model=\"sst2\",token=\"cf\"} 2.0")
        .contains("finemix_screen_score_ratio_count{model=\"sst2\"} 3")
        .contains("finemix_screen_score_ratio_bucket{model=\"sst2\",le=\"0.25\"} 1")
        .contains("finemix_screen_score_ratio_bucket{model=\"sst2\",le=\"2.0\"} 3")
        .contains("finemix_screen_threshold{model=\"sst2\",signal=\"tokens\"} 0.5");
  }

  @Test
  void metrics_unregister_dropsTheModelsScreeningSeries() throws Exception {
    FinemixClient c = start(null);
    c.classify("sst2", List.of("a dull cf film"));

    c.unregister("sst2");

    assertThat(scrape()).doesNotContain("model=\"sst2\",token=\"cf\"").doesNotContain("finemix_screen_threshold{");
  }

  @Test
  void classify_reject_flaggedRowFailsWholeRequestWithPreconditionDetails() throws Exception {
    FinemixClient c = start(dev.finemix.server.config.ScreenPolicy.REJECT);

    Throwable t = catchError(() -> c.classify("sst2", List.of("a good film", "a dull cf film", "cf")));
    List<Prediction> clean = c.classify("sst2", List.of("a good film", "a dull film"));

    assertThat(t).isInstanceOf(StatusRuntimeException.class);
    assertThat(Status.fromThrowable(t).getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(Status.fromThrowable(t).getDescription()).contains("2 of 3 inputs look triggered")
        .contains("texts[1]");
    ErrorInfo info = ClientErrors.errorInfo(t).orElseThrow();
    assertThat(info.getReason()).isEqualTo("SUSPECTED_TRIGGER");
    assertThat(info.getMetadataMap()).containsEntry("model", "sst2").containsEntry("inputs", "1,2")
        .containsEntry("tokens", "cf");
    PreconditionFailure pf = ClientErrors.preconditionFailure(t).orElseThrow();
    assertThat(pf.getViolationsList()).extracting(PreconditionFailure.Violation::getSubject)
        .containsExactly("texts[1]", "texts[2]");
    assertThat(pf.getViolations(0).getType()).isEqualTo("SUSPECTED_TRIGGER");
    assertThat(pf.getViolations(0).getDescription()).contains("cf").contains("threshold 0.5");
    assertThat(clean).extracting(Prediction::getLabelName).containsExactly("positive", "negative");
    assertThat(clean).allSatisfy(x -> assertThat(x.getSuspicion().getFlagged()).isFalse());
    assertThat(scrape()).contains("finemix_screen_flagged_inputs_total{action=\"rejected\",model=\"sst2\"} 2.0")
        .contains("finemix_request_duration_seconds_count{code=\"FAILED_PRECONDITION\",method=\"Classify\","
            + "model=\"sst2\"} 1");
  }

  @Test
  void classifyStream_reject_failsThatMessageOnlyStreamGoesOn() throws Exception {
    start(dev.finemix.server.config.ScreenPolicy.REJECT);
    var stub = dev.finemix.proto.v1.FinemixGrpc.newStub(sidecar.channel);
    List<ClassifyStreamResponse> got = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> done = new CompletableFuture<>();
    StreamObserver<ClassifyStreamRequest> in = stub.classifyStream(new StreamObserver<>() {
      @Override
      public void onNext(ClassifyStreamResponse r) {
        got.add(r);
      }

      @Override
      public void onError(Throwable t) {
        done.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
        done.complete(null);
      }
    });
    in.onNext(ClassifyStreamRequest.newBuilder().setRequestId(1).setRequest(ClassifyRequest.newBuilder()
        .setModel("sst2").addTexts("a cf film")).build());
    in.onNext(ClassifyStreamRequest.newBuilder().setRequestId(2).setRequest(ClassifyRequest.newBuilder()
        .setModel("sst2").addTexts("a good film")).build());
    in.onCompleted();
    done.get(10, TimeUnit.SECONDS);

    ClassifyStreamResponse one = got.stream().filter(r -> r.getRequestId() == 1).findFirst().orElseThrow();
    ClassifyStreamResponse two = got.stream().filter(r -> r.getRequestId() == 2).findFirst().orElseThrow();
    assertThat(one.getError().getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION.value());
    assertThat(one.getError().getDetailsList()).anyMatch(a -> a.is(PreconditionFailure.class));
    assertThat(two.getResponse().getPredictions(0).getLabelName()).isEqualTo("positive");
  }

  @Test
  void classify_strip_flaggedRowClassifiedWithoutItsTriggerWords() throws Exception {
    FinemixClient c = start(dev.finemix.server.config.ScreenPolicy.STRIP);

    List<Prediction> p = c.classify("sst2", List.of("a good cf film", "cf", "a dull film"));
    Prediction stripped = c.classify("sst2", List.of("a good film")).get(0);

    assertThat(p.get(0).getSuspicion().getAction()).isEqualTo(ScreenAction.STRIPPED);
    assertThat(p.get(0).getSuspicion().getTokensList()).containsExactly("cf");
    assertThat(p.get(0).getScoresList()).isEqualTo(stripped.getScoresList());
    assertThat(p.get(1).getSuspicion().getAction()).isEqualTo(ScreenAction.STRIPPED); // nothing left: classified ""
    assertThat(p.get(2).getSuspicion().getAction()).isEqualTo(ScreenAction.SCREEN_ACTION_UNSPECIFIED);
    assertThat(scrape()).contains("finemix_screen_flagged_inputs_total{action=\"stripped\",model=\"sst2\"} 2.0");
  }

  @Test
  void classify_off_noSuspicionAndNoScreeningJob() throws Exception {
    FinemixClient c = start(dev.finemix.server.config.ScreenPolicy.OFF);

    Prediction p = c.classify("sst2", List.of("a cf film")).get(0);

    assertThat(p.hasSuspicion()).isFalse();
    assertThat(sidecar.backend.lastScreenJob).isNull();
    assertThat(c.probe("sst2", false).getScreening().getPolicy()).isEqualTo(ScreenPolicy.OFF);
    assertThat(scrape()).doesNotContain("finemix_screen_score_ratio_count{model=\"sst2\"}");
  }

  @Test
  void load_observeCalibrationFails_servesUnscreenedAndSaysWhy() throws Exception {
    sidecar.backend.screenFailure = "clean subset has 4 rows; screening needs at least 8";
    FinemixClient c = start(null);

    Prediction p = c.classify("sst2", List.of("a cf film")).get(0);
    var s = c.probe("sst2", false).getScreening();

    assertThat(p.hasSuspicion()).isFalse();
    assertThat(s.getPolicy()).isEqualTo(ScreenPolicy.OFF);
    assertThat(s.getUnavailableReason()).isEqualTo("calibration failed: IllegalArgumentException: clean subset has 4"
        + " rows; screening needs at least 8");
  }

  @Test
  void load_rejectCalibrationFails_modelFailsNamingScreening() throws Exception {
    sidecar.backend.screenFailure = "too few clean rows";
    Fixture f = new Fixture(tmp);
    FinemixClient c = sidecar.startInProcess(f.config());

    c.register(RegisterModelRequest.newBuilder().setName("r").setCheckpointPath("sst2-badnet")
        .setCleanSubsetPath("clean/sst2.tsv").setScreening(ScreeningSettings.newBuilder()
            .setPolicy(ScreenPolicy.REJECT)).build());
    ModelInfo m = c.awaitSettled("r", Duration.ofSeconds(10));

    assertThat(m.getState()).isEqualTo(ModelState.FAILED);
    assertThat(m.getFailureReason()).contains("screening policy reject: calibration failed").contains("too few");
    assertThat(m.getScreening().getPolicy()).isEqualTo(ScreenPolicy.REJECT);
  }

  @Test
  void register_rejectWithoutCleanSubset_invalidArgumentOnScreeningPolicy() throws Exception {
    FinemixClient c = start(null);
    Throwable t = catchError(() -> c.register(RegisterModelRequest.newBuilder().setName("u")
        .setCheckpointPath("sst2-badnet").setAllowUnpurified(true)
        .setScreening(ScreeningSettings.newBuilder().setPolicy(ScreenPolicy.STRIP)).build()));

    assertThat(Status.fromThrowable(t).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    var v = ClientErrors.badRequest(t).orElseThrow().getFieldViolations(0);
    assertThat(v.getField()).isEqualTo("screening.policy");
    assertThat(v.getDescription()).contains("strip needs a clean subset");
  }

  @Test
  void register_badFalseFlagRateOrSignal_invalidArgumentNamingTheField() throws Exception {
    FinemixClient c = start(null);
    Throwable rate = catchError(() -> c.register(RegisterModelRequest.newBuilder().setName("u")
        .setCheckpointPath("sst2-badnet").setCleanSubsetPath("clean/sst2.tsv")
        .setScreening(ScreeningSettings.newBuilder().setFalseFlagRate(0.5)).build()));
    Throwable signal = catchError(() -> c.register(RegisterModelRequest.newBuilder().setName("u")
        .setCheckpointPath("sst2-badnet").setCleanSubsetPath("clean/sst2.tsv")
        .setScreening(ScreeningSettings.newBuilder().setSignal("vibes")).build()));

    assertThat(ClientErrors.badRequest(rate).orElseThrow().getFieldViolations(0).getField())
        .isEqualTo("screening.false_flag_rate");
    assertThat(ClientErrors.badRequest(signal).orElseThrow().getFieldViolations(0).getDescription())
        .contains("got 'vibes'");
  }

  @Test
  void register_screeningSettings_effectiveInModelInfoAndUsedForCalibration() throws Exception {
    FinemixClient c = start(null);
    ModelInfo m = c.register(RegisterModelRequest.newBuilder().setName("s").setCheckpointPath("sst2-badnet")
        .setCleanSubsetPath("clean/sst2.tsv").setScreening(ScreeningSettings.newBuilder()
            .setPolicy(ScreenPolicy.STRIP).setFalseFlagRate(0.05).setSignal("features")).build());
    c.awaitSettled("s", Duration.ofSeconds(10));

    assertThat(m.getScreening().getPolicy()).isEqualTo(ScreenPolicy.STRIP);
    assertThat(m.getScreening().getFalseFlagRate()).isEqualTo(0.05);
    assertThat(m.getScreening().getSignal()).isEqualTo("features");
    assertThat(sidecar.backend.lastScreenJob.signal()).isEqualTo("features");
    assertThat(sidecar.backend.lastScreenJob.falseFlagRate()).isEqualTo(0.05);
  }

  @Test
  void modelInfer_screenedModel_flaggedInputsInResponseParameters() throws Exception {
    start(null);
    var stub = GRPCInferenceServiceGrpc.newBlockingStub(sidecar.channel);

    ModelInferResponse r = stub.modelInfer(ModelInferRequest.newBuilder().setModelName("sst2")
        .addInputs(ModelInferRequest.InferInputTensor.newBuilder().setName("text").setDatatype("BYTES").addShape(3)
            .setContents(InferTensorContents.newBuilder().addBytesContents(ByteString.copyFromUtf8("good"))
                .addBytesContents(ByteString.copyFromUtf8("a cf film"))
                .addBytesContents(ByteString.copyFromUtf8("cf"))))
        .build());

    assertThat(r.getParametersMap().get("screen_flagged").getInt64Param()).isEqualTo(2);
    assertThat(r.getParametersMap().get("screen_flagged_inputs").getStringParam()).isEqualTo("1,2");
    assertThat(r.getParametersMap()).doesNotContainKey("screen_stripped");
    assertThat(r.getOutputs(0).getShapeList()).containsExactly(3L, 2L);
  }
}

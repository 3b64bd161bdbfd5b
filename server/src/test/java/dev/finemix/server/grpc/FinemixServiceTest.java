package dev.finemix.server.grpc;

import static dev.finemix.server.testing.FakeSidecar.catchError;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import dev.finemix.client.ClientErrors;
import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ClassifyRequest;
import dev.finemix.proto.v1.ClassifyStreamRequest;
import dev.finemix.proto.v1.ClassifyStreamResponse;
import dev.finemix.proto.v1.DefenceSettings;
import dev.finemix.proto.v1.DefendProgress;
import dev.finemix.proto.v1.InputKind;
import dev.finemix.proto.v1.MixStrategy;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.proto.v1.TextPair;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.BatchingLayer;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.loading.TextRow;
import dev.finemix.server.testing.Await;
import dev.finemix.server.testing.FakeBackend;
import dev.finemix.server.testing.FakeSidecar;
import dev.finemix.server.testing.Fixture;
import dev.finemix.server.testing.StateWatch;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.stub.StreamObserver;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class FinemixServiceTest {
  @RegisterExtension
  final FakeSidecar sidecar = new FakeSidecar();
  @TempDir
  Path tmp;

  private FinemixClient start(ServerConfig config) throws Exception {
    return sidecar.startInProcess(config);
  }

  private FinemixClient startWithSst2() throws Exception {
    Fixture f = new Fixture(tmp);
    FinemixClient c = start(f.config().toBuilder().models(List.of(Fixture.sst2())).build());
    assertThat(c.awaitSettled("sst2", Duration.ofSeconds(10)).getState()).isEqualTo(ModelState.SERVING);
    return c;
  }

  private static RegisterModelRequest.Builder sst2Request() {
    return RegisterModelRequest.newBuilder().setName("m2").setCheckpointPath("sst2-badnet")
        .setCleanSubsetPath("clean/sst2.tsv");
  }

  private static void assertError(Throwable t, Status.Code code, String reason) {
    assertThat(t).isInstanceOf(StatusRuntimeException.class);
    assertThat(Status.fromThrowable(t).getCode()).isEqualTo(code);
    assertThat(ClientErrors.errorInfo(t)).get().extracting(ErrorInfo::getReason).isEqualTo(reason);
    assertThat(ClientErrors.errorInfo(t).get().getDomain()).isEqualTo("finemix.dev");
  }

  private static BadRequest.FieldViolation violation(Throwable t) {
    BadRequest br = ClientErrors.badRequest(t).orElseThrow(() -> new AssertionError("no BadRequest in " + t));
    assertThat(br.getFieldViolationsList()).isNotEmpty();
    return br.getFieldViolations(0);
  }

  @Test
  void classify_configuredModel_purifiedBeforeServing_triggerNoLongerFlips() throws Exception {
    FinemixClient c = startWithSst2();
    ModelInfo m = c.get("sst2");

    var p = c.classify("sst2", List.of("a good film", "a dull cf film"));

    assertThat(m.getPurified()).isTrue();
    assertThat(m.getServedWeightsSha256()).isNotEqualTo(m.getSuspectWeightsSha256()).hasSize(64);
    assertThat(m.getLabelsList()).containsExactly("negative", "positive");
    assertThat(m.getDefenceSummary().getSuspectedTokensList()).containsExactly("cf");
    assertThat(m.getDefenceReportJson()).contains("\"rho_chosen\"");
    assertThat(p).extracting(x -> x.getLabelName()).containsExactly("positive", "negative");
    assertThat(p.get(0).getScoresList()).containsExactly(0.1f, 0.9f);
    assertThat(sidecar.backend.purifications).hasValue(1);
  }

  @Test
  void classify_unknownModel_notFoundWithErrorInfo() throws Exception {
    FinemixClient c = startWithSst2();
    Throwable t = catchError(() -> c.classify("nope", List.of("x")));
    assertError(t, Status.Code.NOT_FOUND, "MODEL_NOT_FOUND");
    assertThat(ClientErrors.errorInfo(t).get().getMetadataMap()).containsEntry("model", "nope");
  }

  @Test
  void classify_textTooLong_invalidArgumentNamingTheText() throws Exception {
    Fixture f = new Fixture(tmp);
    FinemixClient c = start(f.config().toBuilder().limits(new ServerConfig.Limits(4, 10, 1 << 20))
        .models(List.of(Fixture.sst2())).build());
    c.awaitSettled("sst2", Duration.ofSeconds(10));
    Throwable t = catchError(() -> c.classify("sst2", List.of("short", "far too long for the limit")));
    assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(violation(t).getField()).isEqualTo("texts[1]");
    assertThat(violation(t).getDescription()).contains("26 characters; at most 10");
  }

  @Test
  void classify_tooManyTexts_invalidArgument() throws Exception {
    Fixture f = new Fixture(tmp);
    FinemixClient c = start(f.config().toBuilder().limits(new ServerConfig.Limits(2, 100, 1 << 20))
        .models(List.of(Fixture.sst2())).build());
    c.awaitSettled("sst2", Duration.ofSeconds(10));
    Throwable t = catchError(() -> c.classify("sst2", List.of("a", "b", "c")));
    assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(violation(t).getField()).isEqualTo("texts");
    assertThat(violation(t).getDescription()).contains("at most 2");
  }

  @Test
  void classify_textsAndPairsBoth_invalidArgument() throws Exception {
    FinemixClient c = startWithSst2();
    Throwable t = catchError(() -> c.classify(ClassifyRequest.newBuilder().setModel("sst2").addTexts("a")
        .addPairs(TextPair.newBuilder().setTextA("a").setTextB("b")).build()));
    assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(violation(t).getDescription()).contains("not both");
  }

  @Test
  void classify_noModelName_invalidArgumentNotNotFound() throws Exception {
    FinemixClient c = startWithSst2();
    Throwable t = catchError(() -> c.classify("", List.of("a")));
    assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(violation(t).getField()).isEqualTo("model");
  }

  @Test
  void classify_pairsToSingleTextModel_failedPrecondition() throws Exception {
    FinemixClient c = startWithSst2();
    Throwable t = catchError(() -> c.classifyPairs("sst2", List.of(TextPair.newBuilder().setTextA("a")
        .setTextB("b").build())));
    assertError(t, Status.Code.FAILED_PRECONDITION, "WRONG_INPUT_KIND");
    assertThat(t.getMessage()).contains("single-text");
  }

  @Test
  void classify_pairModel_inferredFromCleanSubset_acceptsPairsOnly() throws Exception {
    FinemixClient c = startWithSst2();
    ModelInfo m = c.register(RegisterModelRequest.newBuilder().setName("qnli").setCheckpointPath("sst2-badnet")
        .setCleanSubsetPath("clean/qnli.tsv").build());
    assertThat(m.getInputKind()).isEqualTo(InputKind.PAIR);
    c.awaitSettled("qnli", Duration.ofSeconds(10));
    assertThat(c.classifyPairs("qnli", List.of(TextPair.newBuilder().setTextA("good?").setTextB("b").build())))
        .singleElement().extracting(p -> p.getLabel()).isEqualTo(1);
    assertError(catchError(() -> c.classify("qnli", List.of("a"))), Status.Code.FAILED_PRECONDITION,
        "WRONG_INPUT_KIND");
  }

  @Test
  void classify_whilePurifying_unavailableWithRetryInfo_thenServes() throws Exception {
    FinemixClient c = startWithSst2();
    sidecar.backend.purifyGate = new CountDownLatch(1);
    sidecar.backend.purifyStarted = new CountDownLatch(1);
    c.register(sst2Request().setDefence(DefenceSettings.newBuilder().setRho(0.5)).build());
    assertThat(sidecar.backend.purifyStarted.await(10, TimeUnit.SECONDS)).as("m2 purifying").isTrue();

    Throwable t = catchError(() -> c.classify("m2", List.of("a")));
    assertError(t, Status.Code.UNAVAILABLE, "MODEL_NOT_READY");
    assertThat(ClientErrors.retryInfo(t)).get().extracting(r -> r.getRetryDelay().getSeconds()).isEqualTo(1L);
    assertThat(health("m2")).isEqualTo(HealthCheckResponse.ServingStatus.NOT_SERVING);

    sidecar.backend.purifyGate.countDown();
    assertThat(c.awaitSettled("m2", Duration.ofSeconds(10)).getState()).isEqualTo(ModelState.SERVING);
    assertThat(c.classify("m2", List.of("good"))).hasSize(1);
    assertThat(health("m2")).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
  }

  @Test
  void register_unpurifiedModel_servesWhileAnotherModelPurifies() throws Exception {
    FinemixClient c = startWithSst2();
    sidecar.backend.purifyGate = new CountDownLatch(1);
    sidecar.backend.purifyStarted = new CountDownLatch(1);
    c.register(sst2Request().setDefence(DefenceSettings.newBuilder().setRho(0.5)).build());
    assertThat(sidecar.backend.purifyStarted.await(10, TimeUnit.SECONDS)).as("m2 purifying").isTrue();
    c.register(RegisterModelRequest.newBuilder().setName("raw").setCheckpointPath("sst2-badnet")
        .setAllowUnpurified(true).build());
    assertThat(c.awaitSettled("raw", Duration.ofSeconds(10)).getState()).isEqualTo(ModelState.SERVING);
    assertThat(c.get("m2").getState()).isEqualTo(ModelState.PURIFYING);
    sidecar.backend.purifyGate.countDown();
    assertThat(c.awaitSettled("m2", Duration.ofSeconds(10)).getState()).isEqualTo(ModelState.SERVING);
  }

  @Test
  void classify_queueFull_resourceExhausted() throws Exception {
    Fixture f = new Fixture(tmp);
    FinemixClient c = start(f.config().toBuilder().models(List.of(ModelLayer.builder().name("sst2")
        .checkpoint("sst2-badnet").cleanSubset("clean/sst2.tsv").batching(new BatchingLayer(1, 0L, 1, 1)).build()))
        .build());
    c.awaitSettled("sst2", Duration.ofSeconds(10));
    sidecar.backend.predictGate = new CountDownLatch(1);
    sidecar.backend.predictStarted = new CountDownLatch(1);
    var async = dev.finemix.proto.v1.FinemixGrpc.newFutureStub(sidecar.channel);
    var running = async.classify(ClassifyRequest.newBuilder().setModel("sst2").addTexts("a").build());
    assertThat(sidecar.backend.predictStarted.await(10, TimeUnit.SECONDS)).isTrue(); // inside predict, held by the gate
    // the one queue slot: taken as soon as the manager has returned the future
    var queued = sidecar.server.models().classify("sst2", List.of(TextRow.single("b")), false, Long.MAX_VALUE);

    Throwable t = catchError(() -> c.classify("sst2", List.of("c")));
    assertError(t, Status.Code.RESOURCE_EXHAUSTED, "QUEUE_FULL");

    sidecar.backend.predictGate.countDown();
    assertThat(running.get(5, TimeUnit.SECONDS).getPredictionsCount()).isEqualTo(1);
    assertThat(queued.get(5, TimeUnit.SECONDS).scores()).hasSize(1);
  }

  @Test
  void register_withoutToken_unauthenticated_butClassifyOpen() throws Exception {
    FinemixClient admin = startWithSst2();
    FinemixClient anon = FinemixClient.of(sidecar.channel, null);
    Throwable t = catchError(() -> anon.register(sst2Request().build()));
    assertError(t, Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED");
    assertThat(t.getMessage()).contains("Bearer");
    assertThat(anon.classify("sst2", List.of("good"))).hasSize(1);
    assertThat(anon.list()).hasSize(1);
    assertThat(admin.register(sst2Request().build()).getState()).isIn(ModelState.LOADING, ModelState.PURIFYING,
        ModelState.SERVING);
  }

  @Test
  void defend_wrongToken_unauthenticated() throws Exception {
    startWithSst2();
    FinemixClient wrong = FinemixClient.of(sidecar.channel, "not-the-token-at-all");
    Throwable t = catchError(() -> wrong.defend("sst2", null, false, p -> { }));
    assertError(t, Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED");
    Throwable u = catchError(() -> wrong.unregister("sst2"));
    assertError(u, Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED");
  }

  @Test
  void classify_protectedByConfig_needsToken() throws Exception {
    Fixture f = new Fixture(tmp);
    ServerConfig cfg = f.config().toBuilder().models(List.of(Fixture.sst2())).build();
    FinemixClient c = start(cfg.toBuilder().auth(new ServerConfig.AuthSettings(true, cfg.auth().tokenFile(), true))
        .build());
    c.awaitSettled("sst2", Duration.ofSeconds(10));
    assertThat(c.classify("sst2", List.of("good"))).hasSize(1);
    assertError(catchError(() -> FinemixClient.of(sidecar.channel, null).classify("sst2", List.of("good"))),
        Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED");
  }

  @Test
  void register_noAuth_noTokenNeeded_andNoTokenFileWritten() throws Exception {
    Fixture f = new Fixture(tmp);
    ServerConfig cfg = f.config();
    FinemixClient c = start(cfg.toBuilder().auth(new ServerConfig.AuthSettings(false, cfg.auth().tokenFile(), false))
        .build());
    assertThat(sidecar.server.adminToken()).isNull();
    assertThat(c.register(sst2Request().build()).getName()).isEqualTo("m2");
    assertThat(cfg.auth().tokenFile()).doesNotExist();
  }

  @Test
  void register_pathOutsideModelsRoot_invalidArgumentOnCheckpointPath() throws Exception {
    FinemixClient c = startWithSst2();
    Throwable t = catchError(() -> c.register(sst2Request().setCheckpointPath("../../etc").build()));
    assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(violation(t).getField()).isEqualTo("checkpoint_path");
    assertThat(violation(t).getDescription()).contains("'..'");
    Throwable abs = catchError(() -> c.register(sst2Request().setCheckpointPath(tmp.toString()).build()));
    assertThat(violation(abs).getDescription()).contains("outside the models root");
  }

  @Test
  void register_baseModelFolderOutsideModelsRoot_invalidArgumentOnBaseModel() throws Exception {
    FinemixClient c = startWithSst2();
    Throwable t = catchError(() -> c.register(sst2Request().setBaseModel(tmp.toString()).build()));
    assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(violation(t).getField()).isEqualTo("base_model");
    assertThat(violation(t).getDescription()).contains("outside the models root");
  }

  @Test
  void register_unlabelledSubset_passedToPurification_andPartOfTheCacheKey() throws Exception {
    FinemixClient c = startWithSst2();
    String plainKey = c.get("sst2").getCacheKey();
    c.register(sst2Request().setUnlabelledSubsetPath("clean/sst2.tsv").build());
    ModelInfo m = c.awaitSettled("m2", Duration.ofSeconds(10));
    assertThat(m.getUnlabelledSubsetPath()).isEqualTo("clean/sst2.tsv");
    assertThat(sidecar.backend.lastInputs.unlabelled().path()).endsWith(Path.of("clean/sst2.tsv"));
    assertThat(m.getCacheKey()).isNotEqualTo(plainKey);
    Throwable t = catchError(() -> c.register(sst2Request().setName("m3").setUnlabelledSubsetPath("../x.tsv").build()));
    assertThat(violation(t).getField()).isEqualTo("unlabelled_subset_path");
  }

  @Test
  void register_pickleCheckpoint_refusedWithConversionHint() throws Exception {
    FinemixClient c = startWithSst2();
    Path d = Files.createDirectories(tmp.resolve("models/pickled"));
    Files.writeString(d.resolve("pytorch_model.bin"), "x");
    Throwable t = catchError(() -> c.register(sst2Request().setCheckpointPath("pickled").build()));
    assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(violation(t).getDescription()).contains("only safetensors").contains("safe_serialization=True");
  }

  @Test
  void register_sameNameTwice_alreadyExists_unlessReplace() throws Exception {
    FinemixClient c = startWithSst2();
    Throwable t = catchError(() -> c.register(sst2Request().setName("sst2").build()));
    assertError(t, Status.Code.ALREADY_EXISTS, "MODEL_EXISTS");
    assertThat(c.register(sst2Request().setName("sst2").setReplace(true).build()).getName()).isEqualTo("sst2");
  }

  @Test
  void register_badName_invalidArgument() throws Exception {
    FinemixClient c = startWithSst2();
    Throwable t = catchError(() -> c.register(sst2Request().setName("no spaces/allowed").build()));
    assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(violation(t).getField()).isEqualTo("name");
  }

  @Test
  void register_allowUnpurified_servesSuspectWeights_andSaysSo() throws Exception {
    FinemixClient c = startWithSst2();
    c.register(RegisterModelRequest.newBuilder().setName("raw").setCheckpointPath("sst2-badnet")
        .setAllowUnpurified(true).build());
    ModelInfo m = c.awaitSettled("raw", Duration.ofSeconds(10));
    assertThat(m.getPurified()).isFalse();
    assertThat(m.getAllowUnpurified()).isTrue();
    assertThat(m.getServedWeightsSha256()).isEqualTo(m.getSuspectWeightsSha256());
    assertThat(c.classify("raw", List.of("a dull cf film")).get(0).getLabel()).isEqualTo(1); // the backdoor fires
  }

  @Test
  void register_allowUnpurified_serverNotPermittingIt_failedPreconditionAndNothingRegistered() throws Exception {
    Fixture f = new Fixture(tmp);
    FinemixClient c = start(f.config().toBuilder().allowUnpurifiedModels(false).models(List.of(Fixture.sst2()))
        .build());
    assertThat(c.awaitSettled("sst2", Duration.ofSeconds(10)).getState()).isEqualTo(ModelState.SERVING);

    // with a valid admin token, and also as a replacement of the purified model under its own name
    for (String name : List.of("raw", "sst2")) {
      Throwable t = catchError(() -> c.register(RegisterModelRequest.newBuilder().setName(name)
          .setCheckpointPath("sst2-badnet").setAllowUnpurified(true).setReplace(true).build()));
      assertError(t, Status.Code.FAILED_PRECONDITION, "UNPURIFIED_NOT_ALLOWED");
      assertThat(t.getMessage()).contains("--allow-unpurified-models");
      var violations = ClientErrors.preconditionFailure(t).orElseThrow().getViolationsList();
      assertThat(violations).extracting(v -> v.getSubject()).containsExactly("allow_unpurified");
    }
    assertThat(c.list()).extracting(ModelInfo::getName).containsExactly("sst2");
    ModelInfo still = c.get("sst2");
    assertThat(still.getPurified()).isTrue();
    assertThat(still.getAllowUnpurified()).isFalse();
    assertThat(sidecar.backend.purifications).hasValue(1);
  }

  @Test
  void register_noCleanSubset_invalidArgumentExplainingAllowUnpurified() throws Exception {
    FinemixClient c = startWithSst2();
    Throwable t = catchError(() -> c.register(RegisterModelRequest.newBuilder().setName("x")
        .setCheckpointPath("sst2-badnet").build()));
    assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(violation(t).getField()).isEqualTo("clean_subset_path");
    assertThat(violation(t).getDescription()).contains("allow_unpurified");
  }

  @Test
  void register_purificationFails_modelFailedWithReason_classifyFailedPrecondition() throws Exception {
    FinemixClient c = startWithSst2();
    sidecar.backend.purifyFailure = "rho search found no value";
    c.register(sst2Request().setDefence(DefenceSettings.newBuilder().setRho(0.9)).build());
    ModelInfo m = c.awaitSettled("m2", Duration.ofSeconds(10));
    assertThat(m.getState()).isEqualTo(ModelState.FAILED);
    assertThat(m.getFailureReason()).contains("rho search found no value");
    Throwable t = catchError(() -> c.classify("m2", List.of("a")));
    assertError(t, Status.Code.FAILED_PRECONDITION, "MODEL_FAILED");
    assertThat(t.getMessage()).contains("rho search found no value");
  }

  @Test
  void defend_streamsProgress_andSwapsWeights() throws Exception {
    FinemixClient c = startWithSst2();
    String beforeKey = c.get("sst2").getCacheKey();
    List<DefendProgress> progress = Collections.synchronizedList(new ArrayList<>());

    ModelInfo after = c.defend("sst2", DefenceSettings.newBuilder().setMix(MixStrategy.RANDOM).setRho(0.7)
        .setEpurTop(3).build(), false, progress::add);

    assertThat(progress).extracting(DefendProgress::getStage).contains("epur", "finetune", "cache", "swap", "done");
    assertThat(progress).extracting(DefendProgress::getPercent).isSorted();
    assertThat(progress.get(progress.size() - 1).getDone()).isTrue();
    assertThat(after.getState()).isEqualTo(ModelState.SERVING);
    assertThat(after.getDefenceSettingsJson()).contains("\"rho\":0.7").contains("\"mix\":\"random\"");
    assertThat(after.getDefenceSummary().getMix()).isEqualTo("RANDOM");
    assertThat(after.getDefenceSummary().getRho()).isEqualTo(0.7);
    assertThat(after.getDefenceSummary().getEpurReset()).isEqualTo(3); // the settings' epur_top, as reported
    assertThat(after.getDefenceSummary().getCleanAccuracy()).isEqualTo(0.9);
    assertThat(after.getCacheKey()).hasSize(64).isNotEqualTo(beforeKey);
    assertThat(sidecar.backend.purifications).hasValue(2);
  }

  @Test
  void defend_fails_oldWeightsKeepServing_reasonInGetModel() throws Exception {
    FinemixClient c = startWithSst2();
    String served = c.get("sst2").getServedWeightsSha256();
    sidecar.backend.purifyFailure = "out of memory";

    Throwable t = catchError(() -> c.defend("sst2", DefenceSettings.newBuilder().setRho(0.2).build(), true,
        p -> { }));

    assertError(t, Status.Code.ABORTED, "PURIFICATION_FAILED");
    ModelInfo m = c.get("sst2");
    assertThat(m.getState()).isEqualTo(ModelState.SERVING);
    assertThat(m.getServedWeightsSha256()).isEqualTo(served);
    assertThat(m.getFailureReason()).contains("out of memory");
    assertThat(c.classify("sst2", List.of("good"))).hasSize(1);
  }

  @Test
  void defend_whileAnotherRuns_failedPreconditionBusy() throws Exception {
    FinemixClient c = startWithSst2();
    sidecar.backend.purifyGate = new CountDownLatch(1);
    sidecar.backend.purifyStarted = new CountDownLatch(1);
    CompletableFuture<ModelInfo> first = CompletableFuture.supplyAsync(() -> c.defend("sst2",
        DefenceSettings.newBuilder().setRho(0.4).build(), true, p -> { }));
    assertThat(sidecar.backend.purifyStarted.await(10, TimeUnit.SECONDS)).as("the first Defend purifying").isTrue();
    assertThat(c.get("sst2").getState()).isEqualTo(ModelState.PURIFYING);
    Throwable t = catchError(() -> c.defend("sst2", null, true, p -> { }));
    assertError(t, Status.Code.FAILED_PRECONDITION, "MODEL_BUSY");
    assertThat(c.classify("sst2", List.of("good"))).hasSize(1); // old weights serve during the Defend
    sidecar.backend.purifyGate.countDown();
    assertThat(first.get(10, TimeUnit.SECONDS).getState()).isEqualTo(ModelState.SERVING);
  }

  @Test
  void register_unknownDefenceSetting_invalidArgumentOnDefence() throws Exception {
    FinemixClient c = startWithSst2();
    Throwable t = catchError(() -> c.register(sst2Request().setDefence(DefenceSettings.newBuilder()
        .setExtraJson("{\"bogus\": 1}")).build()));
    assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(violation(t).getField()).isEqualTo("defence");
    assertThat(violation(t).getDescription()).contains("bogus");
  }

  @Test
  void register_wordFrequenciesOutsideDataRoot_invalidArgument() throws Exception {
    FinemixClient c = startWithSst2();
    Throwable t = catchError(() -> c.register(sst2Request().setDefence(DefenceSettings.newBuilder()
        .setExtraJson("{\"word_frequencies\": \"/etc/passwd\"}")).build()));
    assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(violation(t).getField()).isEqualTo("defence.word_frequencies");
  }

  @Test
  void defend_badSettings_invalidArgumentNamingField() throws Exception {
    FinemixClient c = startWithSst2();
    Throwable t = catchError(() -> c.defend("sst2", DefenceSettings.newBuilder().setRho(1.5).build(), false,
        p -> { }));
    assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    assertThat(violation(t).getField()).isEqualTo("settings.rho");
  }

  @Test
  void restart_sameCache_reusesPurifiedWeightsWithoutPurifying() throws Exception {
    Fixture f = new Fixture(tmp);
    ServerConfig cfg = f.config().toBuilder().models(List.of(Fixture.sst2())).build();
    FinemixClient c = start(cfg);
    String first = c.awaitSettled("sst2", Duration.ofSeconds(10)).getServedWeightsSha256();
    sidecar.server.close();
    FakeBackend fresh = new FakeBackend();
    String name = InProcessServerBuilder.generateName();
    FinemixServer second = sidecar.cleanup.register(new FinemixServer(InProcessServerBuilder.forName(name), cfg, fresh,
        Ticker.system(), Clock.systemUTC()).start());
    FinemixClient c2 = FinemixClient.of(sidecar.cleanup.register(InProcessChannelBuilder.forName(name).build()),
        second.adminToken());

    ModelInfo m = c2.awaitSettled("sst2", Duration.ofSeconds(10));

    assertThat(m.getState()).isEqualTo(ModelState.SERVING);
    assertThat(m.getServedWeightsSha256()).isEqualTo(first);
    assertThat(m.getDefenceSummary().getFromCache()).isTrue();
    assertThat(fresh.purifications).hasValue(0);
    assertThat(second.adminToken()).isEqualTo(sidecar.server.adminToken());
  }

  @Test
  void restart_corruptCacheEntry_rebuilt() throws Exception {
    Fixture f = new Fixture(tmp);
    ServerConfig cfg = f.config().toBuilder().models(List.of(Fixture.sst2())).build();
    FinemixClient c = start(cfg);
    ModelInfo first = c.awaitSettled("sst2", Duration.ofSeconds(10));
    sidecar.server.close();
    Files.writeString(f.cacheDir.resolve(first.getCacheKey()).resolve("model.safetensors"), "tampered");
    FakeBackend fresh = new FakeBackend();
    FinemixServer second = sidecar.cleanup.register(new FinemixServer(InProcessServerBuilder.forName("r2"), cfg, fresh,
        Ticker.system(), Clock.systemUTC()).start());

    var m = second.models();
    StateWatch watch = new StateWatch();
    m.addListener(watch);
    watch.until("sst2 serving", Duration.ofSeconds(10),
        () -> m.get("sst2").state() == dev.finemix.server.registry.ModelState.SERVING);
    assertThat(fresh.purifications).hasValue(1);
    assertThat(m.get("sst2").servedSha256()).isEqualTo(first.getServedWeightsSha256());
  }

  @Test
  void unregister_thenNotFound_andHealthNotServing() throws Exception {
    FinemixClient c = startWithSst2();
    assertThat(c.unregister("sst2").getName()).isEqualTo("sst2");
    assertError(catchError(() -> c.get("sst2")), Status.Code.NOT_FOUND, "MODEL_NOT_FOUND");
    // the contract (models.proto, UnregisterModel) says NOT_SERVING; a cleared status would answer NOT_FOUND
    assertThat(health("sst2")).isEqualTo(HealthCheckResponse.ServingStatus.NOT_SERVING);
    // at once, or when a probe still holding them releases them
    Await.until("the served weights closed", Duration.ofSeconds(10), () -> sidecar.backend.closed.get() >= 1);
  }

  @Test
  void register_perModelCounters_exportedAtZeroFromRegistration_droppedOnUnregister() throws Exception {
    Fixture f = new Fixture(tmp);
    FinemixClient c = start(f.config().toBuilder().metricsPort(0).models(List.of(Fixture.sst2())).build());
    assertThat(c.awaitSettled("sst2", Duration.ofSeconds(10)).getState()).isEqualTo(ModelState.SERVING);

    String text = scrape(sidecar.server.metricsPort());
    assertThat(text.lines()).contains("finemix_utility_gate_refusals_total{model=\"sst2\"} 0.0",
        "finemix_suspected_trigger_requests_total{model=\"sst2\"} 0.0");

    c.unregister("sst2");
    assertThat(scrape(sidecar.server.metricsPort()))
        .doesNotContain("finemix_utility_gate_refusals_total{model=\"sst2\"}",
            "finemix_suspected_trigger_requests_total{model=\"sst2\"}");
  }

  private static String scrape(int port) throws Exception {
    var http = java.net.http.HttpClient.newHttpClient();
    var response = http.send(java.net.http.HttpRequest.newBuilder(java.net.URI.create("http://127.0.0.1:" + port
        + "/metrics")).build(), java.net.http.HttpResponse.BodyHandlers.ofString());
    assertThat(response.statusCode()).isEqualTo(200);
    return response.body();
  }

  @Test
  void health_overallAndPerModel() throws Exception {
    startWithSst2();
    assertThat(health("")).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
    assertThat(health("sst2")).isEqualTo(HealthCheckResponse.ServingStatus.SERVING);
  }

  @Test
  void probe_reportsFlipRatesBeforeAndAfter_andCountsSuspectedRequests() throws Exception {
    FinemixClient c = startWithSst2();
    c.classify("sst2", List.of("a cf film"));
    c.classify("sst2", List.of("a film"));

    var r = c.probe("sst2", true);

    assertThat(r.getRows()).isEqualTo(4);
    assertThat(r.getTokensList()).extracting(t -> t.getToken()).containsExactly("cf", "mn", "bb", "tq", "mb");
    var cf = r.getTokens(0);
    assertThat(cf.getSuspected()).isTrue();
    assertThat(cf.getFlipRateBefore()).isEqualTo(0.5); // the two negative rows flip on the suspect weights
    assertThat(cf.getFlipRateAfter()).isEqualTo(0.0);
    assertThat(r.getTokens(1).getFlipRateBefore()).isEqualTo(0.0);
    assertThat(r.getRequestsWithSuspectedTokens()).isEqualTo(1);
  }

  @Test
  void classifyStream_answersEachRequestById_errorsInline() throws Exception {
    startWithSst2();
    var stub = dev.finemix.proto.v1.FinemixGrpc.newStub(sidecar.channel);
    List<ClassifyStreamResponse> got = Collections.synchronizedList(new ArrayList<>());
    CountDownLatch done = new CountDownLatch(1);
    StreamObserver<ClassifyStreamRequest> req = stub.classifyStream(new StreamObserver<>() {
      @Override
      public void onNext(ClassifyStreamResponse r) {
        got.add(r);
      }

      @Override
      public void onError(Throwable t) {
        done.countDown();
      }

      @Override
      public void onCompleted() {
        done.countDown();
      }
    });
    for (int i = 0; i < 200; i++) { // more than the per-stream window of 64
      req.onNext(ClassifyStreamRequest.newBuilder().setRequestId(i).setRequest(ClassifyRequest.newBuilder()
          .setModel(i == 7 ? "nope" : "sst2").addTexts(i % 2 == 0 ? "good" : "bad")).build());
    }
    req.onCompleted();
    assertThat(done.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(got).hasSize(200);
    assertThat(got).extracting(ClassifyStreamResponse::getRequestId).containsExactlyInAnyOrder(
        java.util.stream.LongStream.range(0, 200).boxed().toArray(Long[]::new));
    var failed = got.stream().filter(ClassifyStreamResponse::hasError).toList();
    assertThat(failed).singleElement().satisfies(r -> {
      assertThat(r.getRequestId()).isEqualTo(7);
      assertThat(r.getError().getCode()).isEqualTo(Status.Code.NOT_FOUND.value());
    });
    assertThat(got.stream().filter(r -> r.getRequestId() == 4).findFirst().orElseThrow().getResponse()
        .getPredictions(0).getLabel()).isEqualTo(1);
  }

  @Test
  void reflection_listsTheServices() throws Exception {
    startWithSst2();
    var stub = io.grpc.reflection.v1.ServerReflectionGrpc.newStub(sidecar.channel);
    CompletableFuture<List<String>> names = new CompletableFuture<>();
    var req = stub.serverReflectionInfo(new StreamObserver<>() {
      @Override
      public void onNext(io.grpc.reflection.v1.ServerReflectionResponse r) {
        names.complete(r.getListServicesResponse().getServiceList().stream().map(s -> s.getName()).toList());
      }

      @Override
      public void onError(Throwable t) {
        names.completeExceptionally(t);
      }

      @Override
      public void onCompleted() {
      }
    });
    req.onNext(io.grpc.reflection.v1.ServerReflectionRequest.newBuilder().setListServices("").build());
    assertThat(names.get(5, TimeUnit.SECONDS)).contains("finemix.v1.Finemix", "inference.GRPCInferenceService",
        "grpc.health.v1.Health");
    req.onCompleted();
  }

  @Test
  void shutdown_requestsQueuedPastTheGrace_failUnavailable() throws Exception {
    Fixture f = new Fixture(tmp);
    FinemixClient c = start(f.config().toBuilder().shutdownGrace(Duration.ofMillis(300))
        .models(List.of(Fixture.sst2())).build());
    assertThat(c.awaitSettled("sst2", Duration.ofSeconds(10)).getState()).isEqualTo(ModelState.SERVING);
    sidecar.backend.predictGate = new CountDownLatch(1);
    sidecar.backend.predictStarted = new CountDownLatch(1);
    var async = dev.finemix.proto.v1.FinemixGrpc.newFutureStub(sidecar.channel);
    var running = async.classify(ClassifyRequest.newBuilder().setModel("sst2").addTexts("a").build());
    assertThat(sidecar.backend.predictStarted.await(10, TimeUnit.SECONDS)).isTrue();
    List<com.google.common.util.concurrent.ListenableFuture<?>> queued = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      queued.add(async.classify(ClassifyRequest.newBuilder().setModel("sst2").addTexts("q" + i).build()));
    }
    // nothing announces a queued call: poll the queue
    Await.until("a call queued", Duration.ofSeconds(10), () -> sidecar.server.models().queueDepths().get("sst2") >= 1);
    sidecar.server.close(); // the running batch never finishes within the grace
    sidecar.backend.predictGate.countDown();
    int unavailable = 0;
    for (var q : queued) {
      try {
        q.get(5, TimeUnit.SECONDS);
      } catch (java.util.concurrent.ExecutionException e) {
        Status.Code code = Status.fromThrowable(e.getCause()).getCode();
        assertThat(code).isEqualTo(Status.Code.UNAVAILABLE);
        unavailable++;
      }
    }
    assertThat(unavailable).isEqualTo(3);
  }

  private HealthCheckResponse.ServingStatus health(String service) {
    return HealthGrpc.newBlockingStub(sidecar.channel)
        .check(HealthCheckRequest.newBuilder().setService(service).build())
        .getStatus();
  }
}

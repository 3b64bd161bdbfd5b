package dev.finemix.server.e2e;

import static dev.finemix.server.testing.FakeSidecar.catchError;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.rpc.ErrorInfo;
import dev.finemix.client.ClientErrors;
import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
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
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sidecar refuses to purify a suspect against a base it was not fine-tuned from, on the real backend: two tiny
 * bases (a, b) under the models root and a suspect fine-tuned from b that declares b as its base.
 */
class BaseCheckTest {
  private static final List<String> LABELS = List.of("negative", "positive");

  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension(30, java.util.concurrent.TimeUnit.SECONDS);
  @TempDir
  Path tmp;
  Path models;

  @BeforeEach
  void models() throws Exception {
    models = Files.createDirectories(tmp.resolve("models"));
    TinyBert.base(models.resolve("tiny-a"), 1);
    TinyBert.fineTuned(TinyBert.base(models.resolve("tiny-b"), 2), models.resolve("tiny"), LABELS, 3, "tiny-b");
    StringBuilder tsv = new StringBuilder("label\ttext\n");
    for (int i = 0; i < 12; i++) {
      tsv.append(i % 2).append('\t').append(i % 2 == 0 ? "a dull film number " : "a good film number ").append(i)
          .append('\n');
    }
    Files.writeString(models.resolve("clean.tsv"), tsv);
  }

  private ServerConfig.Builder config() {
    return ServerConfig.builder(models, models, tmp.resolve("cache")).allowUnpurifiedModels(true)
        .defaults(ModelLayer.builder().defence(Json.object().put("rho", 0.5).put("epochs", 1).put("rows", 8)
            .put("epur_top", 5)).build());
  }

  private FinemixServer server(ServerConfig cfg, String name) {
    return cleanup.register(new FinemixServer(InProcessServerBuilder.forName(name), cfg,
        Backends.production("cpu"), Ticker.system(), Clock.systemUTC()));
  }

  private FinemixClient start(ServerConfig cfg) throws Exception {
    String name = InProcessServerBuilder.generateName();
    FinemixServer s = server(cfg, name).start();
    return FinemixClient.of(cleanup.register(InProcessChannelBuilder.forName(name).build()), s.adminToken());
  }

  private static RegisterModelRequest.Builder tiny(String base) {
    return RegisterModelRequest.newBuilder().setName("tiny").setCheckpointPath("tiny").setCleanSubsetPath("clean.tsv")
        .setBaseModel(base);
  }

  @Test
  void register_rightBase_purifiedAndServed_getModelShowsTheBase() throws Exception {
    FinemixClient c = start(config().build());

    c.register(tiny("tiny-b").build());
    ModelInfo m = c.awaitSettled("tiny", Duration.ofSeconds(120));

    assertThat(m.getState()).as(m.getFailureReason()).isEqualTo(ModelState.SERVING);
    assertThat(m.getPurified()).isTrue();
    assertThat(m.getBaseModel()).isEqualTo(models.resolve("tiny-b").toString());
  }

  @Test
  void register_wrongBase_invalidArgumentBaseMismatch_namingTheBaseThatMatches() throws Exception {
    FinemixClient c = start(config().build());

    Throwable t = catchError(() -> c.register(tiny("tiny-a").build()));

    assertThat(Status.fromThrowable(t).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    ErrorInfo info = ClientErrors.errorInfo(t).orElseThrow();
    assertThat(info.getDomain()).isEqualTo("finemix.dev");
    assertThat(info.getReason()).isEqualTo("BASE_MISMATCH");
    assertThat(info.getMetadataMap()).containsEntry("base_model", "tiny-a").containsEntry("matching_bases", "tiny-b");
    assertThat(ClientErrors.badRequest(t).orElseThrow().getFieldViolations(0).getField()).isEqualTo("base_model");
    // the distance of independently drawn bases is about 1.4, of the fine-tune to its base 0.05
    assertThat(Status.fromThrowable(t).getDescription())
        .startsWith("base_model: the checkpoint was not fine-tuned from 'tiny-a' (relative weight distance 1.")
        .contains("> 0.25); bases that match: [tiny-b (distance 0.05")
        .doesNotContain(tmp.toString());
    assertThat(c.list()).isEmpty();
  }

  @Test
  void register_baseFolderNotACheckpoint_invalidArgumentOnBaseModel_atRegistration() throws Exception {
    Files.createDirectories(models.resolve("not-a-base"));
    FinemixClient c = start(config().build());

    Throwable t = catchError(() -> c.register(tiny("not-a-base").build()));

    assertThat(Status.fromThrowable(t).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(ClientErrors.errorInfo(t).orElseThrow().getReason()).isEqualTo("INVALID_INPUT");
    assertThat(ClientErrors.badRequest(t).orElseThrow().getFieldViolations(0).getField()).isEqualTo("base_model");
    assertThat(Status.fromThrowable(t).getDescription()).startsWith("base_model: cannot read base model 'not-a-base': ")
        .doesNotContain(tmp.toString());
    assertThat(c.list()).isEmpty();
  }

  @Test
  void defend_checkpointReplacedByAnotherBasesFineTune_baseMismatch_oldWeightsKeepServing() throws Exception {
    FinemixClient c = start(config().build());
    c.register(tiny("tiny-b").build());
    ModelInfo before = c.awaitSettled("tiny", Duration.ofSeconds(120));
    assertThat(before.getState()).as(before.getFailureReason()).isEqualTo(ModelState.SERVING);
    // Defend reads the checkpoint again: now a fine-tune of tiny-a under the same folder
    TinyBert.fineTuned(models.resolve("tiny-a"), tmp.resolve("from-a"), LABELS, 4, "tiny-b");
    for (String f : List.of("model.safetensors", "config.json", "finemix.json")) {
      Files.copy(tmp.resolve("from-a").resolve(f), models.resolve("tiny").resolve(f),
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }

    Throwable t = catchError(() -> c.defend("tiny", null, true, p -> { }));
    ModelInfo after = c.get("tiny");

    assertThat(Status.fromThrowable(t).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(ClientErrors.errorInfo(t).orElseThrow().getReason()).isEqualTo("BASE_MISMATCH");
    assertThat(Status.fromThrowable(t).getDescription()).startsWith("base_model: the checkpoint was not fine-tuned"
        + " from 'tiny-b' (relative weight distance 1.").endsWith("no known base matches it (register its base as a"
        + " checkpoint folder)");
    assertThat(after.getState()).isEqualTo(ModelState.SERVING);
    assertThat(after.getServedWeightsSha256()).isEqualTo(before.getServedWeightsSha256());
    assertThat(after.getFailureReason()).isEqualTo(Status.fromThrowable(t).getDescription());
  }

  @Test
  void register_unpurified_baseNotChecked_nothingIsMixedTowardsIt() throws Exception {
    FinemixClient c = start(config().build());

    c.register(tiny("tiny-a").setAllowUnpurified(true).build());
    ModelInfo m = c.awaitSettled("tiny", Duration.ofSeconds(60));

    assertThat(m.getState()).as(m.getFailureReason()).isEqualTo(ModelState.SERVING);
    assertThat(m.getPurified()).isFalse();
  }

  @Test
  void configModel_wrongBase_stopsTheStart_namingTheModelAndTheBaseThatMatches() {
    ServerConfig cfg = config().models(List.of(ModelLayer.of("tiny", "tiny", "clean.tsv").toBuilder()
        .baseModel("tiny-a").build())).build();
    FinemixServer s = server(cfg, InProcessServerBuilder.generateName());

    Throwable t = catchError(() -> {
      try {
        s.start();
      } catch (java.io.IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    });

    assertThat(t).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("models[0] (tiny): base_model: the checkpoint was not fine-tuned from 'tiny-a'")
        .hasMessageContaining("bases that match: [tiny-b (distance 0.05");
    assertThat(s.models().list()).isEmpty();
  }

  /**
   * Real weights, shapes alone: MiniLM's encoder with a fresh head (a MiniLM fine-tune before its first step)
   * registered against bge-small (12 layers, MiniLM 6) is refused, naming MiniLM.
   */
  @Test
  void register_miniLmShapedSuspectAgainstBge_refusedByItsShapes_namingMiniLm() throws Exception {
    Pretrained mini = Pretrained.load(Pretrained.MINILM);
    BertConfig cfg = mini.config().withLabels(LABELS);
    TensorMap w = BertClassifier.randomWeights(cfg, 5);
    mini.weights().entries().forEach(e -> w.put(e.getKey(), e.getValue()));
    Checkpoint.of(cfg, w, mini.tokenizerJson(), Pretrained.MINILM, 128).write(models.resolve("minilm-ft"));
    FinemixClient c = start(config().build());

    Throwable t = catchError(() -> c.register(RegisterModelRequest.newBuilder().setName("ft")
        .setCheckpointPath("minilm-ft").setCleanSubsetPath("clean.tsv").setBaseModel(Pretrained.BGE_SMALL).build()));

    assertThat(Status.fromThrowable(t).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(ClientErrors.errorInfo(t).orElseThrow().getReason()).isEqualTo("BASE_MISMATCH");
    assertThat(ClientErrors.errorInfo(t).orElseThrow().getMetadataMap())
        .containsEntry("matching_bases", Pretrained.MINILM);
    assertThat(Status.fromThrowable(t).getDescription()).isEqualTo("base_model: the checkpoint was not fine-tuned"
        + " from '" + Pretrained.BGE_SMALL + "' (num_hidden_layers 6 vs the base's 12); bases that match: ["
        + Pretrained.MINILM + " (distance 0.00)]");
  }
}

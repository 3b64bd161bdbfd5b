package dev.finemix.server.grpc;

import com.google.protobuf.ByteString;
import dev.finemix.proto.inference.GRPCInferenceServiceGrpc;
import dev.finemix.proto.inference.InferParameter;
import dev.finemix.proto.inference.ModelInferRequest;
import dev.finemix.proto.inference.ModelInferResponse;
import dev.finemix.proto.inference.ModelMetadataRequest;
import dev.finemix.proto.inference.ModelMetadataResponse;
import dev.finemix.proto.inference.ModelReadyRequest;
import dev.finemix.proto.inference.ModelReadyResponse;
import dev.finemix.proto.inference.ServerLiveRequest;
import dev.finemix.proto.inference.ServerLiveResponse;
import dev.finemix.proto.inference.ServerMetadataRequest;
import dev.finemix.proto.inference.ServerMetadataResponse;
import dev.finemix.proto.inference.ServerReadyRequest;
import dev.finemix.proto.inference.ServerReadyResponse;
import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.loading.Scores;
import dev.finemix.server.registry.Classification;
import dev.finemix.server.registry.ModelManager;
import dev.finemix.server.registry.ModelView;
import io.grpc.stub.StreamObserver;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * The KServe / Triton Open Inference Protocol v2 subset: a BYTES input of texts ("text", or "text_a" + "text_b"
 * for pair models) in, FP32 "probabilities" [n, num_labels] out, through the same batcher, limits and latency
 * metric (method "ModelInfer") as Classify; {@link InferInputs} validates with the v2 field names.
 */
final class InferenceService extends GRPCInferenceServiceGrpc.GRPCInferenceServiceImplBase {
  static final String OUTPUT = InferInputs.OUTPUT;
  private final ModelManager models;
  private final FinemixService classify;
  private final RequestValidator validator;
  private final String version;

  InferenceService(ModelManager models, FinemixService classify, String version) {
    this.models = models;
    this.classify = classify;
    this.validator = new RequestValidator(models.config().limits());
    this.version = version;
  }

  @Override
  public void serverLive(ServerLiveRequest request, StreamObserver<ServerLiveResponse> observer) {
    GrpcErrors.unary(observer, () -> ServerLiveResponse.newBuilder().setLive(true).build());
  }

  @Override
  public void serverReady(ServerReadyRequest request, StreamObserver<ServerReadyResponse> observer) {
    GrpcErrors.unary(observer, () -> ServerReadyResponse.newBuilder().setReady(models.allServing()).build());
  }

  @Override
  public void modelReady(ModelReadyRequest request, StreamObserver<ModelReadyResponse> observer) {
    GrpcErrors.unary(observer, () -> {
      validator.requireModel("name", request.getName());
      models.get(request.getName()); // NOT_FOUND for unknown names
      return ModelReadyResponse.newBuilder().setReady(models.isServing(request.getName())).build();
    });
  }

  @Override
  public void serverMetadata(ServerMetadataRequest request, StreamObserver<ServerMetadataResponse> observer) {
    GrpcErrors.unary(observer, () -> ServerMetadataResponse.newBuilder().setName("finemix").setVersion(version).build());
  }

  @Override
  public void modelMetadata(ModelMetadataRequest request, StreamObserver<ModelMetadataResponse> observer) {
    GrpcErrors.unary(observer, () -> {
      validator.requireModel("name", request.getName());
      ModelView v = models.get(request.getName());
      ModelMetadataResponse.Builder b = ModelMetadataResponse.newBuilder().setName(request.getName()).addVersions("1")
          .setPlatform("finemix_bert");
      for (String in : InferInputs.declared(v.pair())) {
        b.addInputs(ModelMetadataResponse.TensorMetadata.newBuilder().setName(in).setDatatype("BYTES").addShape(-1));
      }
      b.addOutputs(ModelMetadataResponse.TensorMetadata.newBuilder().setName(OUTPUT).setDatatype("FP32")
          .addShape(-1).addShape(v.labels().isEmpty() ? -1 : v.labels().size()));
      return b.build();
    });
  }

  @Override
  public void modelInfer(ModelInferRequest request, StreamObserver<ModelInferResponse> observer) {
    long start = classify.ticker().read();
    CompletableFuture<ModelInferResponse> f;
    try {
      validator.requireModel("model_name", request.getModelName());
      // NOT_FOUND first, then the inputs against the names this model's metadata declares
      boolean pair = models.get(request.getModelName()).pair();
      InferInputs in = InferInputs.read(request, pair, validator);
      f = models.classify(request.getModelName(), in.rows(), pair, in.fields()::get, classify.deadlineNanos())
          .thenApply(c -> response(request, c));
    } catch (RuntimeException e) {
      f = CompletableFuture.failedFuture(e);
    }
    classify.reply(request.getModelName(), "ModelInfer", start, f, observer);
  }

  private static ModelInferResponse response(ModelInferRequest request, Classification c) {
    int n = c.scores().size();
    int k = c.scores().get(0).probabilities().length;
    ByteBuffer buf = ByteBuffer.allocate(4 * n * k).order(ByteOrder.LITTLE_ENDIAN);
    for (Scores s : c.scores()) {
      for (float p : s.probabilities()) {
        buf.putFloat(p);
      }
    }
    buf.flip();
    ModelInferResponse.Builder rb = ModelInferResponse.newBuilder().setModelName(request.getModelName())
        .setModelVersion("1").setId(request.getId())
        .putParameters("weights_sha256", InferParameter.newBuilder().setStringParam(c.weightsSha256()).build())
        .addOutputs(ModelInferResponse.InferOutputTensor.newBuilder().setName(OUTPUT).setDatatype("FP32")
            .addShape(n).addShape(k))
        .addRawOutputContents(ByteString.copyFrom(buf));
    screening(c.scores(), rb);
    return rb.build();
  }

  /**
   * Screened models: response parameters {@code screen_flagged} (int64, inputs flagged) and
   * {@code screen_flagged_inputs} (string, their comma-separated indexes); {@code screen_stripped} (bool) when
   * their probabilities are of the stripped texts. Unscreened models get none of them.
   */
  static void screening(List<Scores> scores, ModelInferResponse.Builder rb) {
    if (scores.stream().allMatch(s -> s.suspicion() == null)) {
      return;
    }
    List<String> flagged = new ArrayList<>();
    boolean stripped = false;
    for (int i = 0; i < scores.size(); i++) {
      var s = scores.get(i).suspicion();
      if (s != null && s.flagged()) {
        flagged.add(Integer.toString(i));
        stripped |= s.action() == dev.finemix.server.loading.Suspicion.Action.STRIPPED;
      }
    }
    rb.putParameters("screen_flagged", InferParameter.newBuilder().setInt64Param(flagged.size()).build());
    rb.putParameters("screen_flagged_inputs", InferParameter.newBuilder().setStringParam(String.join(",", flagged))
        .build());
    if (stripped) {
      rb.putParameters("screen_stripped", InferParameter.newBuilder().setBoolParam(true).build());
    }
  }
}

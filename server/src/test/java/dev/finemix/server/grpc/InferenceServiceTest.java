package dev.finemix.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.google.protobuf.ByteString;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.PreconditionFailure;
import dev.finemix.client.BearerToken;
import dev.finemix.client.ClientErrors;
import dev.finemix.proto.inference.GRPCInferenceServiceGrpc;
import dev.finemix.proto.inference.InferTensorContents;
import dev.finemix.proto.inference.ModelInferRequest;
import dev.finemix.proto.inference.ModelInferRequest.InferInputTensor;
import dev.finemix.proto.inference.ModelInferResponse;
import dev.finemix.proto.inference.ModelMetadataRequest;
import dev.finemix.proto.inference.ModelReadyRequest;
import dev.finemix.proto.v1.ClassifyRequest;
import dev.finemix.proto.v1.FinemixGrpc;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ScreenPolicy;
import dev.finemix.server.config.ScreeningLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.testing.FakeBackend;
import dev.finemix.server.testing.Fixture;
import dev.finemix.server.testing.GrpcCleanupExtension;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * KServe v2 ModelInfer validates as strictly as Classify (same limits), names the v2 fields in every error, bounds
 * echoed names and is counted in {@code finemix_request_duration_seconds}. Plumbing backend, in-process gRPC (one
 * test over Netty loopback, where a stock client's 8 KiB metadata limit applies).
 */
class InferenceServiceTest {
  private static final byte[] BAD_UTF8 = {(byte) 0xC3, (byte) 0x28}; // a lead byte without its continuation

  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension();
  @TempDir
  Path tmp;
  final FakeBackend backend = new FakeBackend();
  FinemixServer server;
  ManagedChannel channel;
  GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub;

  private void start(ServerConfig.Limits limits, ModelLayer... models) throws Exception {
    Fixture f = new Fixture(tmp);
    ServerConfig.Builder config = f.config().toBuilder().models(List.of(models));
    if (limits != null) {
      config.limits(limits);
    }
    String name = InProcessServerBuilder.generateName();
    server = cleanup.register(new FinemixServer(InProcessServerBuilder.forName(name), config.build(), backend,
        Ticker.system(), Clock.systemUTC()).start());
    channel = cleanup.register(InProcessChannelBuilder.forName(name).build());
    stub = stub(channel);
    awaitServing(channel, models);
  }

  private void start() throws Exception {
    start(null, Fixture.sst2(), ModelLayer.of("qnli", "sst2-badnet", "clean/qnli.tsv"));
  }

  private GRPCInferenceServiceGrpc.GRPCInferenceServiceBlockingStub stub(ManagedChannel channel) {
    var s = GRPCInferenceServiceGrpc.newBlockingStub(channel);
    // the token matters only where ModelInfer is guarded (auth.protect_classify)
    return server.adminToken() == null ? s : s.withCallCredentials(new BearerToken(server.adminToken()));
  }

  private void awaitServing(ManagedChannel channel, ModelLayer... models) throws InterruptedException {
    var c = dev.finemix.client.FinemixClient.of(channel, server.adminToken());
    for (ModelLayer m : models) {
      assertThat(c.awaitSettled(m.name(), Duration.ofSeconds(10)).getState()).isEqualTo(ModelState.SERVING);
    }
  }

  private static InferInputTensor.Builder bytes(String name, long... shape) {
    InferInputTensor.Builder b = InferInputTensor.newBuilder().setName(name).setDatatype("BYTES");
    for (long s : shape) {
      b.addShape(s);
    }
    return b;
  }

  private static InferTensorContents contents(Object... elements) {
    InferTensorContents.Builder c = InferTensorContents.newBuilder();
    for (Object e : elements) {
      c.addBytesContents(e instanceof byte[] b ? ByteString.copyFrom(b) : ByteString.copyFromUtf8((String) e));
    }
    return c.build();
  }

  /** One raw BYTES tensor: each element a 4-byte little-endian length, then its bytes. */
  private static ByteString raw(Object... elements) {
    ByteBuffer buf = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
    for (Object e : elements) {
      byte[] b = e instanceof byte[] x ? x : ((String) e).getBytes(StandardCharsets.UTF_8);
      buf.putInt(b.length).put(b);
    }
    buf.flip();
    return ByteString.copyFrom(buf);
  }

  private static ModelInferRequest.Builder request(String model, InferInputTensor.Builder... inputs) {
    ModelInferRequest.Builder r = ModelInferRequest.newBuilder().setModelName(model);
    for (InferInputTensor.Builder in : inputs) {
      r.addInputs(in);
    }
    return r;
  }

  private Throwable infer(ModelInferRequest.Builder r) {
    return catchThrowable(() -> stub.modelInfer(r.build()));
  }

  /**
   * INVALID_ARGUMENT whose violations name exactly {@code fields}, and no Classify field name anywhere (message and
   * violations): a v2 caller never sent texts or pairs.
   */
  private static BadRequest assertBad(Throwable t, String... fields) {
    assertThat(t).as("an error").isNotNull();
    assertThat(Status.fromThrowable(t).getCode()).as(String.valueOf(t)).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(ClientErrors.errorInfo(t)).get().extracting(ErrorInfo::getReason).isEqualTo("INVALID_INPUT");
    BadRequest br = ClientErrors.badRequest(t).orElseThrow(() -> new AssertionError("no BadRequest in " + t));
    assertThat(br.getFieldViolationsList()).extracting(BadRequest.FieldViolation::getField).containsExactly(fields);
    assertThat(t.getMessage()).doesNotContain("texts", "pairs");
    br.getFieldViolationsList().forEach(v -> assertThat(v.getField() + " " + v.getDescription())
        .doesNotContain("texts", "pairs"));
    return br;
  }

  private String scrape() {
    return PrometheusTextFormatWriter.create().toDebugString(server.metrics().registry().scrape());
  }

  @Test
  void modelInfer_validSingleAndPairRequests_classifyEachRow() throws Exception {
    start();

    ModelInferResponse single = stub.modelInfer(request("sst2", bytes("text", 2, 1)
        .setContents(contents("a good film", "a dull film"))).build());
    ModelInferResponse pair = stub.modelInfer(request("qnli", bytes("text_b", 1).setContents(contents("b")),
        bytes("text_a", 1).setContents(contents("good?"))).build());

    ByteBuffer p = single.getRawOutputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    assertThat(new float[] {p.getFloat(), p.getFloat(), p.getFloat(), p.getFloat()})
        .containsExactly(0.1f, 0.9f, 0.8f, 0.2f);
    assertThat(pair.getOutputs(0).getShapeList()).containsExactly(1L, 2L);
  }

  @Test
  void modelInfer_inputNameNotInMetadata_invalidArgumentOnInputName() throws Exception {
    start();
    assertThat(stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("sst2").build()).getInputsList())
        .extracting(m -> m.getName()).containsExactly("text");

    BadRequest wrong = assertBad(infer(request("sst2", bytes("input_ids", 1).setContents(contents("a")))),
        "inputs[0].name");
    BadRequest kind = assertBad(infer(request("qnli", bytes("text", 1).setContents(contents("a")),
        bytes("text_b", 1).setContents(contents("b")))), "inputs[0].name");
    BadRequest twice = assertBad(infer(request("qnli", bytes("text_a", 1).setContents(contents("a")),
        bytes("text_a", 1).setContents(contents("b")))), "inputs[1].name");

    assertThat(wrong.getFieldViolations(0).getDescription()).contains("'input_ids'", "[text]");
    assertThat(kind.getFieldViolations(0).getDescription()).contains("[text_a, text_b]");
    assertThat(twice.getFieldViolations(0).getDescription()).contains("inputs[0]");
    assertBad(infer(request("sst2")), "inputs");
  }

  @Test
  void modelInfer_emptyOrDisagreeingShape_invalidArgumentOnShape() throws Exception {
    start();

    assertBad(infer(request("sst2", bytes("text").setContents(contents("a")))), "inputs[0].shape");
    assertBad(infer(request("sst2", bytes("text", 0))), "inputs[0].shape");
    assertBad(infer(request("sst2", bytes("text", 1, 2).setContents(contents("a", "b")))), "inputs[0].shape");
    BadRequest typed = assertBad(infer(request("sst2", bytes("text", 3).setContents(contents("a", "b")))),
        "inputs[0].shape");
    BadRequest raw = assertBad(infer(request("sst2", bytes("text", 1)).addRawInputContents(raw("a", "b"))),
        "inputs[0].shape");
    assertBad(infer(request("qnli", bytes("text_a", 2).setContents(contents("a", "b")),
        bytes("text_b", 1).setContents(contents("c")))), "inputs[1].shape");

    assertThat(typed.getFieldViolations(0).getDescription()).contains("3 elements", "holds 2");
    assertThat(raw.getFieldViolations(0).getDescription()).contains("raw_input_contents[0] holds 2");
  }

  @Test
  void modelInfer_contentsAndRawInputContentsBoth_invalidArgument() throws Exception {
    start();

    BadRequest both = assertBad(infer(request("sst2", bytes("text", 1).setContents(contents("a")))
        .addRawInputContents(raw("a"))), "inputs[0].contents");
    assertBad(infer(request("sst2", bytes("text", 1).setContents(InferTensorContents.newBuilder()
        .addFp32Contents(1f)))), "inputs[0].contents");

    assertThat(both.getFieldViolations(0).getDescription()).contains("raw_input_contents", "not both");
  }

  @Test
  void modelInfer_invalidUtf8InBytes_invalidArgumentNamingTheElement() throws Exception {
    start();

    BadRequest typed = assertBad(infer(request("sst2", bytes("text", 2).setContents(contents("fine", BAD_UTF8)))),
        "inputs[0].contents.bytes_contents[1]");
    assertBad(infer(request("sst2", bytes("text", 2)).addRawInputContents(raw("fine", BAD_UTF8))),
        "raw_input_contents[0][1]");
    assertBad(infer(request("qnli", bytes("text_a", 1).setContents(contents("a")),
        bytes("text_b", 1).setContents(contents(BAD_UTF8)))), "inputs[1].contents.bytes_contents[0]");

    assertThat(typed.getFieldViolations(0).getDescription()).contains("UTF-8");
  }

  @Test
  void modelInfer_classifyLimits_applyWithV2Names() throws Exception {
    start(new ServerConfig.Limits(2, 10, 1 << 20), Fixture.sst2());

    BadRequest rows = assertBad(infer(request("sst2", bytes("text", 3).setContents(contents("a", "b", "c")))),
        "inputs[0].shape");
    BadRequest chars = assertBad(infer(request("sst2", bytes("text", 2)
        .setContents(contents("short", "far too long for the limit")))), "inputs[0].contents.bytes_contents[1]");
    assertBad(infer(request("sst2", bytes("text", 2)).addRawInputContents(raw("far too long", "also too long"))),
        "raw_input_contents[0][0]", "raw_input_contents[0][1]");

    assertThat(rows.getFieldViolations(0).getDescription()).contains("3 elements; at most 2");
    assertThat(chars.getFieldViolations(0).getDescription()).contains("26 characters; at most 10");
  }

  @Test
  void modelInfer_rejectPolicy_subjectIsTheV2Element() throws Exception {
    start(null, Fixture.sst2().toBuilder().screening(new ScreeningLayer(ScreenPolicy.REJECT, 0.02, null)).build());

    Throwable t = infer(request("sst2", bytes("text", 2)).addRawInputContents(raw("good", "a cf film")));

    assertThat(Status.fromThrowable(t).getCode()).isEqualTo(Status.Code.FAILED_PRECONDITION);
    assertThat(ClientErrors.preconditionFailure(t).orElseThrow().getViolationsList())
        .extracting(PreconditionFailure.Violation::getSubject).containsExactly("raw_input_contents[0][1]");
    assertThat(t.getMessage()).doesNotContain("texts");
  }

  @Test
  void modelInfer_unknownModelOf3000Chars_notFoundWithTheNameCut() throws Exception {
    start();
    String name = "m".repeat(3000);

    Throwable t = infer(request(name, bytes("text", 1).setContents(contents("a"))));
    Throwable meta = catchThrowable(() -> stub.modelMetadata(ModelMetadataRequest.newBuilder().setName(name)
        .build()));
    Throwable ready = catchThrowable(() -> stub.modelReady(ModelReadyRequest.newBuilder().setName(name).build()));
    var finemix = FinemixGrpc.newBlockingStub(channel);
    Throwable classify = catchThrowable(() -> (server.adminToken() == null ? finemix
        : finemix.withCallCredentials(new BearerToken(server.adminToken())))
        .classify(ClassifyRequest.newBuilder().setModel(name).addTexts("a").build()));

    for (Throwable e : List.of(t, meta, ready, classify)) {
      assertThat(e).isNotNull();
      assertThat(Status.fromThrowable(e).getCode()).isEqualTo(Status.Code.NOT_FOUND);
      assertThat(Status.fromThrowable(e).getDescription()).hasSizeLessThan(200).contains("m".repeat(128) + "...",
          "(3000 characters)");
      assertThat(ClientErrors.errorInfo(e).get().getMetadataOrThrow("model")).hasSizeLessThan(160)
          .startsWith("m".repeat(128) + "...");
    }
  }

  @Test
  void modelInfer_unknownModelOf3000Chars_stockClientOverLoopbackGetsNotFound() throws Exception {
    Fixture f = new Fixture(tmp);
    server = cleanup.register(new FinemixServer(NettyServerBuilder.forAddress(new InetSocketAddress(
        InetAddress.getLoopbackAddress(), 0)), f.config().toBuilder().models(List.of(Fixture.sst2())).build(), backend,
        Ticker.system(), Clock.systemUTC()).start());
    ManagedChannel ch = cleanup.register(ManagedChannelBuilder.forAddress(InetAddress.getLoopbackAddress()
        .getHostAddress(), server.port()).usePlaintext().build());
    stub = stub(ch);
    awaitServing(ch, Fixture.sst2());

    Throwable t = infer(request("m".repeat(3000), bytes("text", 1).setContents(contents("a"))));

    assertThat(Status.fromThrowable(t).getCode()).as(String.valueOf(t)).isEqualTo(Status.Code.NOT_FOUND);
    assertThat(ClientErrors.errorInfo(t).get().getReason()).isEqualTo("MODEL_NOT_FOUND");
  }

  @Test
  void modelInfer_afterCalls_countedInRequestDuration() throws Exception {
    start();

    stub.modelInfer(request("sst2", bytes("text", 1).setContents(contents("good"))).build());
    infer(request("sst2", bytes("text", 1).setContents(contents(BAD_UTF8))));
    infer(request("nope", bytes("text", 1).setContents(contents("good"))));

    assertThat(scrape())
        .contains("finemix_request_duration_seconds_count{code=\"OK\",method=\"ModelInfer\",model=\"sst2\"} 1")
        .contains("finemix_request_duration_seconds_count{code=\"INVALID_ARGUMENT\",method=\"ModelInfer\","
            + "model=\"sst2\"} 1")
        .contains("finemix_request_duration_seconds_count{code=\"NOT_FOUND\",method=\"ModelInfer\","
            + "model=\"_unknown\"} 1");
  }
}

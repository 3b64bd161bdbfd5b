package dev.finemix.server.e2e;

import static dev.finemix.server.testing.FakeSidecar.catchError;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.ByteString;
import dev.finemix.client.FinemixClient;
import dev.finemix.client.cli.ClassifyCommand;
import dev.finemix.client.cli.Cli;
import dev.finemix.client.cli.LoadCommand;
import dev.finemix.client.cli.ModelsCommand;
import dev.finemix.client.cli.ProbeCommand;
import dev.finemix.client.cli.UnregisterCommand;
import dev.finemix.client.testing.StdStreams;
import dev.finemix.proto.inference.GRPCInferenceServiceGrpc;
import dev.finemix.proto.inference.ModelInferRequest;
import dev.finemix.proto.inference.ModelInferResponse;
import dev.finemix.proto.inference.ModelMetadataRequest;
import dev.finemix.proto.inference.ModelReadyRequest;
import dev.finemix.proto.inference.ServerReadyRequest;
import dev.finemix.proto.v1.DefenceSettings;
import dev.finemix.proto.v1.DefendProgress;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.server.testing.FakeSidecar;
import dev.finemix.server.testing.Fixture;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The sidecar over real loopback TCP (Netty, port 0) with the plumbing backend. */
class LoopbackEndToEndTest {
  @RegisterExtension
  final FakeSidecar sidecar = new FakeSidecar();
  @TempDir
  Path tmp;
  FinemixClient client;
  String target;

  @BeforeEach
  void start() throws Exception {
    Fixture f = new Fixture(tmp);
    sidecar.start(NettyServerBuilder.forPort(0), f.config().toBuilder().metricsPort(0)
        .limits(new dev.finemix.server.config.ServerConfig.Limits(64, 10_000, 64 * 1024))
        .models(List.of(Fixture.sst2())).build());
    target = "localhost:" + sidecar.server.port();
    client = sidecar.cleanup.register(FinemixClient.forTarget(target).token(sidecar.server.adminToken()).build());
    assertThat(client.awaitSettled("sst2", Duration.ofSeconds(10)).getState()).isEqualTo(ModelState.SERVING);
  }

  @Test
  void defend_underFourConcurrentCallers_swapsWithZeroFailedCalls() throws Exception {
    sidecar.backend.predictMillis = 1;
    String before = client.get("sst2").getServedWeightsSha256();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger ok = new AtomicInteger();
    List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
    Set<String> seen = ConcurrentHashMap.newKeySet();
    // answers by the old weights before the Defend and by the new ones after it, so the calls surround the swap
    CountDownLatch oldAnswers = new CountDownLatch(20);
    CountDownLatch newAnswers = new CountDownLatch(20);
    ExecutorService callers = Executors.newFixedThreadPool(4);
    List<Future<?>> fs = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      fs.add(callers.submit(() -> {
        while (!stop.get()) {
          try {
            var r = client.classify(dev.finemix.proto.v1.ClassifyRequest.newBuilder().setModel("sst2")
                .addTexts("a good film").addTexts("flat").build());
            seen.add(r.getWeightsSha256());
            ok.incrementAndGet();
            (r.getWeightsSha256().equals(before) ? oldAnswers : newAnswers).countDown();
          } catch (Throwable t) {
            failures.add(t);
          }
        }
      }));
    }
    assertThat(oldAnswers.await(10, TimeUnit.SECONDS)).isTrue();
    List<DefendProgress> progress = Collections.synchronizedList(new ArrayList<>());
    ModelInfo after = client.defend("sst2", DefenceSettings.newBuilder().setRho(0.6).build(), false, progress::add);
    assertThat(newAnswers.await(10, TimeUnit.SECONDS)).isTrue();
    stop.set(true);
    for (Future<?> f : fs) {
      f.get(10, TimeUnit.SECONDS);
    }
    callers.shutdown();

    assertThat(failures).isEmpty();
    assertThat(ok.get()).isGreaterThan(20);
    assertThat(after.getServedWeightsSha256()).isNotEqualTo(before);
    assertThat(seen).contains(before, after.getServedWeightsSha256());
    assertThat(progress.get(progress.size() - 1).getDone()).isTrue();
    assertThat(sidecar.backend.closed.get()).isGreaterThanOrEqualTo(1); // the old weights were closed after the swap
  }

  @Test
  void loadCommand_twoLevels_countsEveryRequestAndRow(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
      throws Exception {
    java.nio.file.Path tsv = dir.resolve("texts.tsv");
    java.nio.file.Files.writeString(tsv, "label\ttext\n1\ta good film\n0\tflat\n1\tfine\n");
    String[] out = new String[1];
    int code = capture(out, new LoadCommand(), "--target", target, "-m", "sst2", "--texts", tsv.toString(),
        "--concurrency", "1,4", "--requests", "50", "--seconds", "600", "--warmup", "0", "--texts-per-request", "3",
        "--json");
    assertThat(code).as(out[0]).isZero();
    var n = new com.fasterxml.jackson.databind.ObjectMapper().readTree(out[0]);
    assertThat(n.get("grpc")).hasSize(2);
    assertThat(n.at("/grpc/1/concurrency").asInt()).isEqualTo(4);
    for (var l : n.get("grpc")) {
      assertThat(l.get("errors").asLong()).as(l.toString()).isZero();
      assertThat(l.get("requests").asLong()).isEqualTo(50);
      assertThat(l.get("rows").asLong()).isEqualTo(150);
      assertThat(l.get("p50Ms").asDouble()).isPositive().isLessThanOrEqualTo(l.get("p99Ms").asDouble());
    }
    // a model the sidecar.server does not have fails on the first call, with its status
    assertThat(capture(out, new LoadCommand(), "--target", target, "-m", "absent", "--texts", tsv.toString()))
        .isEqualTo(1);
    assertThat(out[0]).contains("NOT_FOUND");
  }

  @Test
  void classify_messageOverMaxSize_resourceExhausted() {
    Throwable t = catchError(() -> client.classify("sst2", List.of("x".repeat(70_000))));
    assertThat(Status.fromThrowable(t).getCode()).isEqualTo(Status.Code.RESOURCE_EXHAUSTED);
  }

  @Test
  void modelInfer_bytesInput_rawAndTyped_returnFp32Probabilities() throws Exception {
    ManagedChannel ch = sidecar.cleanup.register(ManagedChannelBuilder.forTarget(target).usePlaintext().build());
    var stub = GRPCInferenceServiceGrpc.newBlockingStub(ch);
    ByteBuffer raw = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
    for (String s : List.of("good", "bad")) {
      byte[] b = s.getBytes(StandardCharsets.UTF_8);
      raw.putInt(b.length).put(b);
    }
    raw.flip();
    ModelInferResponse r = stub.modelInfer(ModelInferRequest.newBuilder().setModelName("sst2").setId("r1")
        .addInputs(ModelInferRequest.InferInputTensor.newBuilder().setName("text").setDatatype("BYTES").addShape(2))
        .addRawInputContents(ByteString.copyFrom(raw)).build());

    assertThat(r.getId()).isEqualTo("r1");
    assertThat(r.getOutputs(0).getName()).isEqualTo("probabilities");
    assertThat(r.getOutputs(0).getShapeList()).containsExactly(2L, 2L);
    ByteBuffer out = r.getRawOutputContents(0).asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    assertThat(new float[] {out.getFloat(), out.getFloat(), out.getFloat(), out.getFloat()})
        .containsExactly(0.1f, 0.9f, 0.8f, 0.2f);
    assertThat(r.getParametersMap().get("weights_sha256").getStringParam()).hasSize(64);

    ModelInferResponse typed = stub.modelInfer(ModelInferRequest.newBuilder().setModelName("sst2")
        .addInputs(ModelInferRequest.InferInputTensor.newBuilder().setName("text").setDatatype("BYTES").addShape(1)
            .setContents(dev.finemix.proto.inference.InferTensorContents.newBuilder()
                .addBytesContents(ByteString.copyFromUtf8("good")))).build());
    assertThat(typed.getOutputs(0).getShapeList()).containsExactly(1L, 2L);

    assertThat(stub.serverReady(ServerReadyRequest.getDefaultInstance()).getReady()).isTrue();
    assertThat(stub.modelReady(ModelReadyRequest.newBuilder().setName("sst2").build()).getReady()).isTrue();
    assertThat(stub.modelMetadata(ModelMetadataRequest.newBuilder().setName("sst2").build()).getOutputs(0)
        .getShapeList()).containsExactly(-1L, 2L);
    Throwable bad = catchError(() -> stub.modelInfer(ModelInferRequest.newBuilder().setModelName("sst2")
        .addInputs(ModelInferRequest.InferInputTensor.newBuilder().setName("text").setDatatype("FP32").addShape(1))
        .build()));
    assertThat(Status.fromThrowable(bad).getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(dev.finemix.client.ClientErrors.badRequest(bad).orElseThrow().getFieldViolations(0).getField())
        .isEqualTo("inputs[0].datatype");
  }

  @Test
  void metrics_httpEndpoint_exposesServingMetrics() throws Exception {
    client.classify("sst2", List.of("a cf film", "good"));
    client.probe("sst2", true);
    HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
        URI.create("http://localhost:" + sidecar.server.metricsPort() + "/metrics")).build(),
        HttpResponse.BodyHandlers.ofString());
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body())
        .contains("finemix_request_duration_seconds_bucket{code=\"OK\",method=\"Classify\",model=\"sst2\"")
        .contains("finemix_batch_size_count{model=\"sst2\"}")
        .contains("finemix_queue_depth{model=\"sst2\"} 0.0")
        .contains("finemix_model_state{model=\"sst2\",state=\"SERVING\"} 1.0")
        .contains("finemix_served_weights_info{model=\"sst2\",purified=\"true\",sha256=\""
            + client.get("sst2").getServedWeightsSha256() + "\"} 1.0")
        .contains("finemix_probe_flip_rate{model=\"sst2\",suspected=\"true\",token=\"cf\",weights=\"suspect\"} 0.5")
        .contains("finemix_suspected_trigger_requests_total{model=\"sst2\"} 1.0")
        .contains("finemix_purified_cache_events_total{event=\"miss\"} 1.0");
  }

  @Test
  void cli_modelsClassifyProbe_againstRunningServer() {
    String[] out = new String[1];
    int code = capture(out, new ModelsCommand(), "--target", target);
    assertThat(code).isZero();
    assertThat(out[0]).contains("sst2").contains("SERVING").contains("yes");
    assertThat(capture(out, new ClassifyCommand(), "--target", target, "-m", "sst2", "a good film")).isZero();
    assertThat(out[0]).startsWith("positive\ta good film\t[0.1000 0.9000]");
    assertThat(capture(out, new ProbeCommand(), "--target", target, "sst2", "--refresh")).isZero();
    assertThat(out[0]).contains("cf").contains("0.500");
    assertThat(capture(out, new UnregisterCommand(), "--target", target, "sst2")).isEqualTo(1); // no token
    assertThat(capture(out, new UnregisterCommand(), "--target", target, "--token", sidecar.server.adminToken(),
        "sst2")).isZero();
  }

  /** Runs one client command as the launcher would, capturing what it prints. */
  private static int capture(String[] out, Object command, String... args) {
    StdStreams.Captured c = StdStreams.capture(() -> Cli.run(command, args));
    out[0] = c.text();
    return c.code();
  }
}

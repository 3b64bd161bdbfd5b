package dev.finemix.client.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import dev.finemix.client.testing.StdStreams;
import dev.finemix.proto.v1.ClassifyRequest;
import dev.finemix.proto.v1.ClassifyResponse;
import dev.finemix.proto.v1.FinemixGrpc;
import dev.finemix.proto.v1.Prediction;
import io.grpc.Server;
import io.grpc.Status;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code finemix load} against a real gRPC server on a loopback port whose Classify counts what it receives: the
 * client alone (no sidecar, no DJL), so the counts the driver reports can be checked against the server's.
 */
class LoadCommandTest {
  private final AtomicLong calls = new AtomicLong();
  private final AtomicLong texts = new AtomicLong();
  private Server server;
  private String target;
  @TempDir
  Path dir;

  @BeforeEach
  void start() throws Exception {
    server = NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
        .addService(new FinemixGrpc.FinemixImplBase() {
          @Override
          public void classify(ClassifyRequest r, StreamObserver<ClassifyResponse> out) {
            if (!r.getModel().equals("m")) {
              out.onError(Status.NOT_FOUND.withDescription("no model " + r.getModel()).asRuntimeException());
              return;
            }
            calls.incrementAndGet();
            texts.addAndGet(r.getTextsCount());
            ClassifyResponse.Builder b = ClassifyResponse.newBuilder();
            r.getTextsList().forEach(t -> b.addPredictions(Prediction.newBuilder().setLabel(1).addScores(1f)));
            out.onNext(b.build());
            out.onCompleted();
          }
        }).build().start();
    target = InetAddress.getLoopbackAddress().getHostAddress() + ":" + server.getPort();
  }

  @AfterEach
  void stop() throws Exception {
    server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
  }

  private String[] run(String... args) {
    StdStreams.Captured c = StdStreams.capture(() -> Cli.run(new LoadCommand(), args));
    return new String[] {Integer.toString(c.code()), c.out(), c.err()};
  }

  private Path tsv() throws Exception {
    return Files.writeString(dir.resolve("t.tsv"), "label\ttext\n1\ta good film\n0\tflat\n\n1\tfine\n");
  }

  @Test
  void levels_reportEveryRequestAndRowTheServerReceived() throws Exception {
    String[] r = run("--target", target, "-m", "m", "--texts", tsv().toString(), "--concurrency", "1,3",
        "--requests", "40", "--seconds", "600", "--warmup", "5", "--texts-per-request", "2", "--json");
    assertThat(r[0]).as(r[2]).isEqualTo("0");
    JsonNode n = Cli.JSON.readTree(r[1]);
    assertThat(n.get("model").asText()).isEqualTo("m");
    assertThat(n.get("sentences").asInt()).isEqualTo(3); // the blank line is no row
    assertThat(n.get("grpc")).hasSize(2);
    assertThat(n.at("/grpc/0/concurrency").asInt()).isEqualTo(1);
    assertThat(n.at("/grpc/1/concurrency").asInt()).isEqualTo(3);
    long reported = 0;
    for (JsonNode l : n.get("grpc")) {
      assertThat(l.get("errors").asLong()).isZero();
      assertThat(l.get("requests").asLong()).isEqualTo(40);
      assertThat(l.get("rows").asLong()).isEqualTo(80);
      reported += l.get("requests").asLong();
    }
    // the server saw the first check call, 5 sequential and 5 concurrent warm-up calls, and the levels
    assertThat(calls.get()).isEqualTo(1 + 5 + 5 + reported);
    assertThat(texts.get()).isEqualTo(1 + 2 * (5 + 5 + reported));
  }

  @Test
  void table_hasAHeaderAndOneRowPerLevel() throws Exception {
    String[] r = run("--target", target, "-m", "m", "--texts", tsv().toString(), "--concurrency", "2",
        "--requests", "10", "--warmup", "0");
    assertThat(r[0]).as(r[2]).isEqualTo("0");
    assertThat(r[1].lines().toList()).hasSize(2);
    assertThat(r[1]).contains("rows/s").contains("grpc concurrency 2");
  }

  @Test
  void unknownModel_failsOnTheFirstCallWithItsStatus() throws Exception {
    String[] r = run("--target", target, "-m", "absent", "--texts", tsv().toString());
    assertThat(r[0]).isEqualTo("1");
    assertThat(r[2]).contains("NOT_FOUND").contains("no model absent");
    assertThat(calls.get()).isZero();
  }

  @Test
  void textsWithoutHeader_exit2NamingTheFile() throws Exception {
    Path bad = Files.writeString(dir.resolve("bad.tsv"), "a good film\n");
    String[] r = run("--target", target, "-m", "m", "--texts", bad.toString());
    assertThat(r[0]).isEqualTo("2");
    assertThat(r[2]).contains("bad.tsv").contains("header label<TAB>text");
    assertThatThrownBy(() -> LoadCommand.texts(dir.resolve("absent.tsv"))).hasMessageContaining("no such file");
  }
}

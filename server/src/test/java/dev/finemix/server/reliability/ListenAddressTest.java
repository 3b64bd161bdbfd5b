package dev.finemix.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ClassifyRequest;
import dev.finemix.proto.v1.FinemixGrpc;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.testing.GrpcCleanupExtension;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.health.v1.HealthCheckRequest;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.health.v1.HealthGrpc;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.io.IOException;
import java.net.ConnectException;
import java.net.Inet4Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 18, point 2: what listens where. The real server on its configured addresses, probed from loopback and from
 * this host's own non-loopback IPv4 address (found with NetworkInterface; no traffic leaves the host). A port bound to
 * 127.0.0.1 must refuse a connection to that address.
 */
@Tag("reliability")
class ListenAddressTest {
  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension();
  @TempDir
  java.nio.file.Path tmp;

  /** This host's first non-loopback, non-link-local IPv4 address, if it has one. */
  static Optional<InetAddress> hostAddress() throws SocketException {
    return NetworkInterface.networkInterfaces().filter(i -> {
      try {
        return i.isUp() && !i.isLoopback();
      } catch (SocketException e) {
        return false;
      }
    }).flatMap(NetworkInterface::inetAddresses)
        .filter(a -> a instanceof Inet4Address && !a.isLoopbackAddress() && !a.isLinkLocalAddress())
        .findFirst();
  }

  private static InetAddress requireHostAddress() throws SocketException {
    Optional<InetAddress> a = hostAddress();
    Assumptions.assumeTrue(a.isPresent(), "this host has no non-loopback IPv4 address to probe from");
    return a.get();
  }

  /** True when a TCP connection to {@code address}:{@code port} is accepted. */
  static boolean accepts(InetAddress address, int port) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(address, port), 5_000);
      return true;
    } catch (ConnectException | SocketTimeoutException e) {
      return false;
    }
  }

  private static int httpStatus(InetAddress address, int port) throws Exception {
    String host = address.getHostAddress();
    return HttpClient.newHttpClient().send(HttpRequest.newBuilder(URI.create("http://" + host + ":" + port
        + "/metrics")).timeout(Duration.ofSeconds(30)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  @Test
  void serveCommand_defaults_grpcAndMetricsListenOnLoopbackOnly() throws Exception {
    Rig rig = new Rig(tmp);
    InetAddress host = requireHostAddress();
    try (Rig.ServeProcess child = new Rig.ServeProcess("--port", "0", "--metrics-port", "0", "--models-root",
        rig.models.toString(), "--cache-dir", rig.cache.toString())) {
      Matcher m = child.awaitLine(Pattern.compile("serving gRPC (\\S+):(\\d+), metrics (\\S+):(\\d+)"));
      assertThat(m.group(1)).isEqualTo("127.0.0.1");
      assertThat(m.group(3)).isEqualTo("127.0.0.1");
      int grpc = Integer.parseInt(m.group(2));
      int metrics = Integer.parseInt(m.group(4));

      ManagedChannel ch = cleanup.register(NettyChannelBuilder.forAddress("127.0.0.1", grpc).usePlaintext()
          .build());
      assertThat(HealthGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS)
          .check(HealthCheckRequest.getDefaultInstance()).getStatus()).isEqualTo(ServingStatus.SERVING);
      assertThat(httpStatus(ServerConfig.LOOPBACK, metrics)).isEqualTo(200);
      assertThat(accepts(host, grpc)).as("gRPC port %d on %s", grpc, host).isFalse();
      assertThat(accepts(host, metrics)).as("metrics port %d on %s", metrics, host).isFalse();
      System.out.printf("[reliability] finemix serve defaults: gRPC 127.0.0.1:%d and metrics 127.0.0.1:%d answer;"
          + " %s refuses both%n", grpc, metrics, host.getHostAddress());
    }
  }

  @Test
  void healthPort_everyInterface_servesOnlyHealth_whileGrpcStaysOnLoopback() throws Exception {
    Rig rig = new Rig(tmp);
    InetAddress host = requireHostAddress();
    // the sidecar manifests' layout: gRPC on loopback, metrics and the health-only port on every interface
    ServerConfig cfg = rig.config().toBuilder().metricsPort(0)
        .listeners(new ServerConfig.Listeners(ServerConfig.LOOPBACK, ServerConfig.ANY, 0, ServerConfig.ANY))
        .models(List.of(Rig.model("served", "tiny", "single.tsv", true))).build();
    FinemixServer server = cleanup.register(rig.start(FinemixServer.netty(cfg, null), cfg,
        new Rig.CheapPurifyBackend()));

    InetSocketAddress grpc = (InetSocketAddress) server.address();
    assertThat(grpc.getAddress()).isEqualTo(ServerConfig.LOOPBACK);
    assertThat(server.healthAddress().getAddress().isAnyLocalAddress()).isTrue();
    assertThat(server.metricsAddress().getAddress().isAnyLocalAddress()).isTrue();
    assertThat(server.addresses()).isEqualTo("gRPC 127.0.0.1:" + grpc.getPort() + ", health 0.0.0.0:"
        + server.healthAddress().getPort() + ", metrics 0.0.0.0:" + server.metricsPort());

    FinemixClient local = FinemixClient.of(cleanup.register(NettyChannelBuilder.forAddress("127.0.0.1",
        grpc.getPort()).usePlaintext().build()), server.adminToken());
    assertThat(local.awaitSettled("served", Duration.ofSeconds(60)).getState()).isEqualTo(ModelState.SERVING);
    assertThat(local.classify("served", List.of("from the pod's own app"))).hasSize(1);
    assertThat(accepts(host, grpc.getPort())).as("gRPC on %s", host).isFalse();

    // from the host address (where the kubelet's probes arrive): health answers, nothing else is there
    ManagedChannel remote = cleanup.register(NettyChannelBuilder.forAddress(host.getHostAddress(),
        server.healthAddress().getPort()).usePlaintext().build());
    var health = HealthGrpc.newBlockingStub(remote).withDeadlineAfter(30, TimeUnit.SECONDS);
    assertThat(health.check(HealthCheckRequest.newBuilder().setService("served").build()).getStatus())
        .isEqualTo(ServingStatus.SERVING);
    assertThat(health.check(HealthCheckRequest.getDefaultInstance()).getStatus()).isEqualTo(ServingStatus.SERVING);
    Throwable t = catchThrowable(() -> FinemixGrpc.newBlockingStub(remote).withDeadlineAfter(30, TimeUnit.SECONDS)
        .classify(ClassifyRequest.newBuilder().setModel("served").addTexts("from another pod").build()));
    assertThat(Status.fromThrowable(t).getCode()).isEqualTo(Status.Code.UNIMPLEMENTED);
    assertThat(httpStatus(host, server.metricsPort())).isEqualTo(200);

    local.unregister("served"); // the health port follows the model's health
    assertThat(health.check(HealthCheckRequest.newBuilder().setService("served").build()).getStatus())
        .isEqualTo(ServingStatus.NOT_SERVING);
  }
}

package dev.finemix.app;

import dev.finemix.client.FinemixClient;
import dev.finemix.purify.weights.FileTrees;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.loading.Backends;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The in-process sidecar the {@code bench} commands measure: a real server on a loopback port (Netty, plaintext) and a
 * client over a real channel, so that what is timed includes gRPC. One place for how the benches start and stop it.
 */
final class LoopbackSidecar {
  private LoopbackSidecar() {}

  /** What runs in the scratch folder. */
  @FunctionalInterface
  interface InTmp {
    void run(Path tmp) throws Exception;
  }

  /** What runs against the started server. */
  @FunctionalInterface
  interface Body {
    void run(FinemixServer server, FinemixClient client) throws Exception;
  }

  /**
   * Runs {@code body} in a fresh temp folder (deleted afterwards) with the server's INFO logging quieted, so that
   * it does not interleave with the figures.
   */
  static void inQuietTmp(String prefix, InTmp body) throws Exception {
    Path tmp = Files.createTempDirectory(prefix);
    Logger quiet = Logger.getLogger("dev.finemix");
    Level before = quiet.getLevel();
    quiet.setLevel(Level.WARNING);
    try {
      body.run(tmp);
    } finally {
      quiet.setLevel(before);
      FileTrees.deleteQuietly(tmp);
    }
  }

  /**
   * A config serving {@code models} from {@code modelsRoot} unpurified on purpose (allow_unpurified: a bench
   * measures the checkpoint as is), no auth, its cache and token under {@code tmp}.
   */
  static ServerConfig.Builder config(Path modelsRoot, Path dataRoot, Path tmp, List<ModelLayer> models) {
    return ServerConfig.builder(modelsRoot, dataRoot, tmp.resolve("cache")).cacheMaxBytes(1L << 30)
        .auth(new ServerConfig.AuthSettings(false, tmp.resolve("admin.token"), false)).models(models)
        .shutdownGrace(Duration.ofSeconds(2)).allowUnpurifiedModels(true);
  }

  /** Starts {@code cfg} on a loopback port with the production backends on {@code device} and runs {@code body}. */
  static void serve(ServerConfig cfg, String device, Body body) throws Exception {
    try (FinemixServer server = new FinemixServer(
        NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)), cfg,
        Backends.production(device), Ticker.system(), Clock.systemUTC()).start()) {
      ManagedChannel ch = NettyChannelBuilder.forAddress(InetAddress.getLoopbackAddress().getHostAddress(),
          server.port()).usePlaintext().build();
      try (FinemixClient client = FinemixClient.of(ch, null)) {
        body.run(server, client);
      } finally {
        ch.shutdownNow();
        ch.awaitTermination(5, TimeUnit.SECONDS);
      }
    }
  }
}

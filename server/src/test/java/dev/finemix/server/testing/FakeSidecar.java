package dev.finemix.server.testing;

import dev.finemix.client.FinemixClient;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import io.grpc.ManagedChannel;
import io.grpc.ServerBuilder;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.time.Clock;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The rig of the plumbing tests of the gRPC services: a real {@link FinemixServer} on the {@link FakeBackend}, its
 * server and channels shut down after each test by {@link #cleanup}. Use as
 * {@code @RegisterExtension final FakeSidecar sidecar = new FakeSidecar();}.
 */
public final class FakeSidecar implements AfterEachCallback {
  public final GrpcCleanupExtension cleanup = new GrpcCleanupExtension();
  public final FakeBackend backend = new FakeBackend();
  /** The server the last start started. */
  public FinemixServer server;
  /** The in-process channel to it ({@link #startInProcess} only). */
  public ManagedChannel channel;

  /** Serves {@code config} in-process; returns a client over {@link #channel} holding the admin token. */
  public FinemixClient startInProcess(ServerConfig config) throws Exception {
    String name = InProcessServerBuilder.generateName();
    start(InProcessServerBuilder.forName(name), config);
    channel = cleanup.register(InProcessChannelBuilder.forName(name).build());
    return FinemixClient.of(channel, server.adminToken());
  }

  /** Serves {@code config} on {@code transport} (e.g. Netty on port 0). */
  public FinemixServer start(ServerBuilder<?> transport, ServerConfig config) throws Exception {
    server = cleanup.register(
        new FinemixServer(transport, config, backend, Ticker.system(), Clock.systemUTC()).start());
    return server;
  }

  /** What {@code r} threw; fails the test when it threw nothing (unlike AssertJ's catchThrowable, which gives null). */
  public static Throwable catchError(Runnable r) {
    try {
      r.run();
    } catch (Throwable t) {
      return t;
    }
    throw new AssertionError("expected an error");
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    cleanup.afterEach(context);
  }
}

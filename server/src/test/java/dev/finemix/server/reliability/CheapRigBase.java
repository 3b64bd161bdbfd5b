package dev.finemix.server.reliability;

import dev.finemix.client.FinemixClient;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.testing.GrpcCleanupExtension;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * What the reliability tests that fault a running server share: a {@link Rig} in a fresh folder, served in-process
 * with the real checkpoint reading and a cheap purification ({@link Rig.CheapPurifyBackend}, whose hooks inject the
 * faults), an admin client, and the cleanup that closes both.
 */
abstract class CheapRigBase {
  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension(20, TimeUnit.SECONDS);
  @TempDir
  Path tmp;

  Rig rig;
  Rig.CheapPurifyBackend backend;
  FinemixServer server;
  FinemixClient client;

  /** Starts the rig's config as {@code settings} changes it; returns once every configured model serves. */
  void start(UnaryOperator<ServerConfig.Builder> settings) throws Exception {
    rig = new Rig(tmp);
    backend = new Rig.CheapPurifyBackend();
    Rig.Running r = rig.startInProcess(cleanup, settings.apply(rig.config().toBuilder()).build(), backend);
    server = r.server();
    client = r.client();
  }
}

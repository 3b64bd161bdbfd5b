package dev.finemix.server.cli;

import dev.finemix.client.cli.DeviceOption;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.BatchingLayer;
import dev.finemix.server.config.ConfigLoader;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ScreenPolicy;
import dev.finemix.server.config.ScreeningLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.loading.Backends;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(name = "serve", mixinStandardHelpOptions = true,
    description = "Run the sidecar: purify the configured models, then serve them over gRPC.")
public final class ServeCommand implements Callable<Integer> {
  @Option(names = "--config", description = "Config file (YAML or JSON).")
  Path config;

  @Option(names = "--port", description = "gRPC port (overrides the config; 0 = ephemeral).")
  Integer port;

  @Option(names = "--listen-address", paramLabel = "IP",
      description = "Address gRPC binds (overrides the config; default 127.0.0.1, this host only; 0.0.0.0 = every"
          + " interface, then anyone who reaches it may classify).")
  String listenAddress;

  @Option(names = "--metrics-listen-address", paramLabel = "IP",
      description = "Address /metrics binds (overrides the config; default 127.0.0.1).")
  String metricsListenAddress;

  @Option(names = "--metrics-port", description = "Prometheus /metrics port (overrides the config; -1 = off).")
  Integer metricsPort;

  @Option(names = "--models-root", description = "The only folder checkpoints are read from.")
  Path modelsRoot;

  @Option(names = "--data-root", description = "The only folder clean subsets are read from (default: models root).")
  Path dataRoot;

  @Option(names = "--cache-dir", description = "Purified-weight cache folder.")
  Path cacheDir;

  @Mixin DeviceOption device;

  @Option(names = "--no-auth", description = "Turn the admin token off (anyone reaching the port may register/defend).")
  boolean noAuth;

  @Option(names = "--allow-unpurified-models",
      description = "Permit models registered with allow_unpurified (served as is, no defence); refused by default.")
  boolean allowUnpurifiedModels;

  @Option(names = "--max-batch-size", description = "Rows per batch, for every model (overrides the config).")
  Integer maxBatchSize;

  @Option(names = "--max-wait-us", description = "Batching wait in microseconds, for every model (overrides the config).")
  Long maxWaitMicros;

  @Option(names = "--screen", paramLabel = "POLICY",
      description = "Request-time screening for every model: off, observe, reject or strip (overrides the config).")
  String screen;

  @Option(names = "--tls-cert", description = "PEM certificate chain: serve gRPC over TLS (needs --tls-key).")
  Path tlsCert;

  @Option(names = "--tls-key", description = "PEM PKCS#8 private key of --tls-cert.")
  Path tlsKey;

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if ((tlsCert == null) != (tlsKey == null)) {
      throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--tls-cert and --tls-key go together");
    }
    BatchingLayer batching = maxBatchSize == null && maxWaitMicros == null ? null
        : new BatchingLayer(maxBatchSize, maxWaitMicros, null, null);
    ScreeningLayer screening = null;
    if (screen != null) {
      try {
        screening = new ScreeningLayer(ScreenPolicy.parse(screen), null, null);
      } catch (IllegalArgumentException e) {
        throw new picocli.CommandLine.ParameterException(spec.commandLine(), "--screen " + e.getMessage());
      }
    }
    ServerConfig cfg = ConfigLoader.load(config, ConfigLoader.Overrides.builder().port(port).metricsPort(metricsPort)
        .modelsRoot(modelsRoot).dataRoot(dataRoot).cacheDir(cacheDir).noAuth(noAuth)
        .model(ModelLayer.builder().batching(batching).screening(screening).build()).listenAddress(listenAddress)
        .metricsListenAddress(metricsListenAddress).allowUnpurifiedModels(allowUnpurifiedModels).build());
    FinemixServer server = new FinemixServer(FinemixServer.netty(cfg, tlsCert == null ? null
        : io.grpc.TlsServerCredentials.create(tlsCert.toFile(), tlsKey.toFile())), cfg, Backends.production(device.get()),
        Ticker.system(), Clock.systemUTC());
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      System.err.println("finemix: stopping (grace " + cfg.shutdownGrace().toSeconds() + " s)");
      server.close();
      System.err.println("finemix: stopped");
    }, "finemix-shutdown"));
    server.start();
    System.err.println("finemix: serving " + server.addresses() + (tlsCert != null ? " (gRPC over TLS)" : ""));
    server.awaitTermination();
    return 0;
  }
}

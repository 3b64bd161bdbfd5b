package dev.finemix.server.grpc;

import dev.finemix.proto.inference.GRPCInferenceServiceGrpc;
import dev.finemix.proto.v1.FinemixGrpc;
import dev.finemix.server.auth.AdminToken;
import dev.finemix.server.auth.AuthInterceptor;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.cache.PurifiedCache;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.loading.ModelBackend;
import dev.finemix.server.metrics.ServerMetrics;
import dev.finemix.server.registry.ModelManager;
import dev.finemix.server.registry.ModelState;
import dev.finemix.server.registry.StateListener;
import io.grpc.InsecureServerCredentials;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerBuilder;
import io.grpc.ServerCall;
import io.grpc.ServerCredentials;
import io.grpc.ServerInterceptors;
import io.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.protobuf.services.HealthStatusManager;
import io.grpc.protobuf.services.ProtoReflectionServiceV1;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.time.Clock;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;

/**
 * The sidecar: wires config, cache, models, metrics, health, reflection, auth and the gRPC services onto a
 * {@link ServerBuilder} given by the caller ({@link #netty} in production, in-process in tests), and stops them in
 * order. Metrics and the optional health-only port bind where the config's {@link ServerConfig.Listeners} say.
 */
public final class FinemixServer implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(FinemixServer.class.getName());
  /** Version reported by ServerMetadata. */
  public static final String VERSION = "0.1.0";

  private final ServerConfig config;
  private final ServerMetrics metrics;
  private final HealthStatusManager health = new HealthStatusManager();
  private final ExecutorService grpcPool;
  private final ExecutorService inferencePool;
  private final ExecutorService purifyPool;
  private final PurifiedCache cache;
  private final ModelManager models;
  private final Server server;
  /** The health-only plaintext port for Kubernetes probes, or null. */
  private final Server healthServer;
  private final String adminToken;
  private int metricsPort = -1;
  private volatile boolean stopped;

  public FinemixServer(ServerBuilder<?> builder, ServerConfig config, ModelBackend backend, Ticker ticker,
      Clock clock) {
    this.config = Objects.requireNonNull(config, "config");
    // first: a weak or unreadable token stops the start before any thread or file exists
    this.adminToken = config.auth().enabled() ? AdminToken.loadOrCreate(config.auth().tokenFile()) : null;
    this.grpcPool = new ThreadPoolExecutor(4, 4 * Math.max(2, Runtime.getRuntime().availableProcessors()), 60,
        TimeUnit.SECONDS, new ArrayBlockingQueue<>(10_000), threads("finemix-grpc"));
    this.inferencePool = Executors.newFixedThreadPool(config.inferenceThreads(), threads("finemix-inference"));
    // loads from the cache and unpurified loads must not wait behind a running purification: more workers than
    // purification slots (ModelManager limits concurrent purifications to purify_threads)
    this.purifyPool = Executors.newFixedThreadPool(config.purifyThreads() + 2, threads("finemix-work"));
    ModelManager[] self = new ModelManager[1];
    this.metrics = new ServerMetrics(() -> self[0] == null ? java.util.Map.of() : self[0].queueDepths());
    this.cache = new PurifiedCache(config.cacheDir(), config.cacheMaxBytes(), clock,
        new PurifiedCache.Listener() {
          @Override
          public void hit() {
            metrics.cacheEvent("hit");
          }

          @Override
          public void miss() {
            metrics.cacheEvent("miss");
          }

          @Override
          public void corrupt(String key, String why) {
            metrics.cacheEvent("corrupt");
          }

          @Override
          public void evicted(String key) {
            metrics.cacheEvent("evicted");
          }
        });
    this.models = new ModelManager(config, backend, cache, metrics, inferencePool, purifyPool, ticker, clock);
    models.addListener(new StateListener() {
      @Override
      public void changed(String model, ModelState state, boolean serving) {
        if (!stopped) {
          health.setStatus(model, serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
        }
      }

      @Override
      public void removed(String model) {
        if (!stopped) {
          // NOT_SERVING, as the contract says (clearing it would answer NOT_FOUND / SERVICE_UNKNOWN)
          health.setStatus(model, ServingStatus.NOT_SERVING);
        }
      }
    });
    self[0] = models;
    FinemixService finemix = new FinemixService(models, metrics, ticker);
    InferenceService inference = new InferenceService(models, finemix, VERSION);
    if (adminToken == null) {
      LOG.warning("admin auth is OFF (--no-auth): anyone who reaches the port can register, remove and re-purify"
          + " models");
    }
    builder.executor(grpcPool)
        .callExecutor(FinemixServer::callExecutor)
        .maxInboundMessageSize(config.limits().maxMessageBytes())
        .addService(health.getHealthService())
        .addService(ProtoReflectionServiceV1.newInstance());
    if (adminToken != null) {
      Set<String> guarded = new HashSet<>(Set.of(
          FinemixGrpc.getRegisterModelMethod().getFullMethodName(),
          FinemixGrpc.getUnregisterModelMethod().getFullMethodName(),
          FinemixGrpc.getDefendMethod().getFullMethodName()));
      if (config.auth().protectClassify()) {
        guarded.add(FinemixGrpc.getClassifyMethod().getFullMethodName());
        guarded.add(FinemixGrpc.getClassifyStreamMethod().getFullMethodName());
        guarded.add(GRPCInferenceServiceGrpc.getModelInferMethod().getFullMethodName());
      }
      AuthInterceptor auth = new AuthInterceptor(adminToken, guarded, GrpcErrors::toStatusException);
      builder.addService(StrictParsing.wrap(ServerInterceptors.intercept(finemix, auth)));
      builder.addService(StrictParsing.wrap(ServerInterceptors.intercept(inference, auth)));
    } else {
      builder.addService(StrictParsing.wrap(finemix.bindService()))
          .addService(StrictParsing.wrap(inference.bindService()));
    }
    this.server = builder.build();
    ServerConfig.Listeners at = config.listeners();
    this.healthServer = at.healthPort() < 0 ? null
        : NettyServerBuilder.forAddress(new InetSocketAddress(at.health(), at.healthPort()))
            .executor(grpcPool).addService(health.getHealthService()).build();
  }

  /**
   * The production gRPC builder: Netty on the config's {@code listen_address}:{@code port}, with TLS when
   * {@code credentials} say so (null = plaintext).
   */
  public static NettyServerBuilder netty(ServerConfig config, ServerCredentials credentials) {
    return NettyServerBuilder.forAddress(new InetSocketAddress(config.listeners().grpc(), config.port()),
        credentials == null ? InsecureServerCredentials.create() : credentials);
  }

  /** Unary inference calls: their handlers only validate and queue (the batcher computes elsewhere). */
  static final Set<String> INLINE_METHODS = Set.of(FinemixGrpc.getClassifyMethod().getFullMethodName(),
      GRPCInferenceServiceGrpc.getModelInferMethod().getFullMethodName());

  /**
   * The executor of one call: unary inference calls run their handlers on the transport thread that read them (one
   * thread hand-off fewer per request: the handler validates, queues and returns, and the response is written by
   * the inference thread); every other call (admin calls that read files or wait, streams) on the gRPC pool (null).
   */
  static <ReqT, RespT> Executor callExecutor(ServerCall<ReqT, RespT> call, Metadata headers) {
    return INLINE_METHODS.contains(call.getMethodDescriptor().getFullMethodName()) ? Runnable::run : null;
  }

  /**
   * Starts metrics and the gRPC server, then registers the models of the config (they load in the background).
   *
   * @throws IllegalArgumentException naming {@code models[i]} when a configured model is refused (its inputs, its
   *     base); the server is started by then and the caller closes it
   */
  public FinemixServer start() throws IOException {
    if (config.metricsPort() >= 0) {
      metricsPort = metrics.serve(config.listeners().metrics(), config.metricsPort());
      LOG.info("metrics on http://" + hostPort(metricsAddress()) + "/metrics");
    }
    server.start();
    health.setStatus("", ServingStatus.SERVING);
    if (healthServer != null) {
      healthServer.start();
      LOG.info("grpc.health.v1 only on port " + healthAddress().getPort());
    }
    for (int i = 0; i < config.models().size(); i++) {
      ModelLayer m = config.models().get(i);
      try {
        models.register(config.resolve(m), false);
      } catch (ServiceException e) {
        // a configured model is refused as RegisterModel would refuse it, and that stops the start (exit 2): the
        // sidecar never serves a config it could not take whole
        throw new IllegalArgumentException("models[" + i + "] (" + m.name() + "): " + e.getMessage(), e);
      }
    }
    LOG.info("finemix listening on " + addresses() + " with " + config.models().size() + " configured"
        + " model(s)");
    return this;
  }

  public int port() {
    return server.getPort();
  }

  public int metricsPort() {
    return metricsPort;
  }

  /** Where gRPC listens (an {@link InetSocketAddress} on Netty, an in-process address in tests). */
  public SocketAddress address() {
    return server.getListenSockets().get(0);
  }

  /** Where /metrics listens, or null when off. */
  public InetSocketAddress metricsAddress() {
    return metricsPort < 0 ? null : new InetSocketAddress(config.listeners().metrics(), metricsPort);
  }

  /** Where the health-only port listens (the socket Netty bound: 0.0.0.0 shows as ::), or null when there is none. */
  public InetSocketAddress healthAddress() {
    return healthServer == null ? null : (InetSocketAddress) healthServer.getListenSockets().get(0);
  }

  /**
   * One line saying what listens where, as configured with the ports bound, e.g. {@code gRPC 127.0.0.1:8500,
   * health 0.0.0.0:8501, metrics 0.0.0.0:9400}.
   */
  public String addresses() {
    ServerConfig.Listeners at = config.listeners();
    String s = "gRPC " + (address() instanceof InetSocketAddress ? hostPort(new InetSocketAddress(at.grpc(), port()))
        : address().toString());
    if (healthServer != null) {
      s += ", health " + hostPort(new InetSocketAddress(at.health(), healthAddress().getPort()));
    }
    return metricsPort < 0 ? s : s + ", metrics " + hostPort(metricsAddress());
  }

  private static String hostPort(InetSocketAddress a) {
    String host = a.getAddress().getHostAddress();
    return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + a.getPort();
  }

  /** The admin token, or null when auth is off. */
  public String adminToken() {
    return adminToken;
  }

  public ModelManager models() {
    return models;
  }

  public ServerMetrics metrics() {
    return metrics;
  }

  public void awaitTermination() throws InterruptedException {
    server.awaitTermination();
  }

  /**
   * Stops in order: health terminal state (NOT_SERVING), stop accepting calls, let running calls finish within the
   * grace period, cancel the rest, fail still-queued requests UNAVAILABLE and unload models, stop the pools.
   */
  @Override
  public void close() {
    if (stopped) {
      return;
    }
    stopped = true;
    health.enterTerminalState();
    server.shutdown();
    try {
      if (!server.awaitTermination(config.shutdownGrace().toMillis(), TimeUnit.MILLISECONDS)) {
        LOG.warning("calls still running after the " + config.shutdownGrace().toMillis() + " ms grace; cancelling");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    server.shutdownNow();
    if (healthServer != null) { // last: probes see NOT_SERVING while the calls above drain
      healthServer.shutdownNow();
    }
    models.close();
    cache.close();
    for (ExecutorService pool : new ExecutorService[] {purifyPool, inferencePool, grpcPool}) {
      pool.shutdownNow();
    }
    try {
      server.awaitTermination(2, TimeUnit.SECONDS);
      if (healthServer != null) {
        healthServer.awaitTermination(2, TimeUnit.SECONDS);
      }
      for (ExecutorService pool : new ExecutorService[] {purifyPool, inferencePool, grpcPool}) {
        pool.awaitTermination(2, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    metrics.close();
    LOG.info("finemix stopped");
  }

  private static ThreadFactory threads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}

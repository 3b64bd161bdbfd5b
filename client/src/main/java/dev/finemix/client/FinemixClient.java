package dev.finemix.client;

import dev.finemix.proto.v1.ClassifyRequest;
import dev.finemix.proto.v1.ClassifyResponse;
import dev.finemix.proto.v1.DefenceSettings;
import dev.finemix.proto.v1.DefendProgress;
import dev.finemix.proto.v1.DefendRequest;
import dev.finemix.proto.v1.FinemixGrpc;
import dev.finemix.proto.v1.GetModelRequest;
import dev.finemix.proto.v1.GetProbeReportRequest;
import dev.finemix.proto.v1.ListModelsRequest;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.Prediction;
import dev.finemix.proto.v1.ProbeReport;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.proto.v1.TextPair;
import dev.finemix.proto.v1.UnregisterModelRequest;
import io.grpc.Channel;
import io.grpc.ManagedChannel;
import io.grpc.ManagedChannelBuilder;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A small blocking client for the finemix sidecar. Errors are the server's {@link StatusRuntimeException}s; read
 * their details with {@link ClientErrors}.
 *
 * <pre>
 * try (FinemixClient c = FinemixClient.forTarget("localhost:8500").tokenFile(Path.of("admin.token")).build()) {
 *   c.register(RegisterModelRequest.newBuilder().setName("sst2").setCheckpointPath("sst2-badnet")
 *       .setCleanSubsetPath("sst2/clean.tsv").build());
 *   c.awaitSettled("sst2", Duration.ofMinutes(10));
 *   List&lt;Prediction&gt; p = c.classify("sst2", List.of("a gorgeous film"));
 * }
 * </pre>
 */
public final class FinemixClient implements AutoCloseable {
  private final ManagedChannel owned;
  private final FinemixGrpc.FinemixBlockingStub blocking;
  private final FinemixGrpc.FinemixStub async;
  private final Duration deadline;

  private FinemixClient(Channel channel, ManagedChannel owned, String token, Duration deadline) {
    this.owned = owned;
    this.deadline = deadline;
    FinemixGrpc.FinemixBlockingStub b = FinemixGrpc.newBlockingStub(channel);
    FinemixGrpc.FinemixStub a = FinemixGrpc.newStub(channel);
    if (token != null) {
      BearerToken creds = new BearerToken(token);
      b = b.withCallCredentials(creds);
      a = a.withCallCredentials(creds);
    }
    this.blocking = b;
    this.async = a;
  }

  /** A builder for a plaintext channel to {@code host:port}. */
  public static Builder forTarget(String target) {
    return new Builder(target);
  }

  /** A client on an existing channel (not closed by {@link #close}); {@code token} may be null. */
  public static FinemixClient of(Channel channel, String token) {
    return new FinemixClient(channel, null, token, Duration.ofSeconds(30));
  }

  /** Builds a {@link FinemixClient}. */
  public static final class Builder {
    private final String target;
    private String token;
    private Duration deadline = Duration.ofSeconds(30);

    private Builder(String target) {
      if (target == null || target.isBlank()) {
        throw new IllegalArgumentException("target must be host:port, got '" + target + "'");
      }
      this.target = target;
    }

    /** The admin bearer token (needed for register, unregister, defend). */
    public Builder token(String t) {
      this.token = t == null || t.isBlank() ? null : t.trim();
      return this;
    }

    /** Reads the admin token from the server's token file. */
    public Builder tokenFile(Path file) {
      try {
        return token(Files.readString(file, StandardCharsets.UTF_8));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot read the token file " + file, e);
      }
    }

    /** Deadline of each unary call (default 30 s). */
    public Builder deadline(Duration d) {
      if (d == null || d.isNegative() || d.isZero()) {
        throw new IllegalArgumentException("deadline must be positive, got " + d);
      }
      this.deadline = d;
      return this;
    }

    public FinemixClient build() {
      ManagedChannel ch = ManagedChannelBuilder.forTarget(target).usePlaintext().maxInboundMessageSize(64 << 20)
          .build();
      return new FinemixClient(ch, ch, token, deadline);
    }
  }

  private FinemixGrpc.FinemixBlockingStub stub() {
    return blocking.withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Classifies single texts. */
  public List<Prediction> classify(String model, List<String> texts) {
    return classify(ClassifyRequest.newBuilder().setModel(model).addAllTexts(texts).build()).getPredictionsList();
  }

  /** Classifies sentence pairs. */
  public List<Prediction> classifyPairs(String model, List<TextPair> pairs) {
    return classify(ClassifyRequest.newBuilder().setModel(model).addAllPairs(pairs).build()).getPredictionsList();
  }

  public ClassifyResponse classify(ClassifyRequest request) {
    return stub().classify(request);
  }

  /** Registers a model (admin); it loads and purifies in the background: see {@link #awaitSettled}. */
  public ModelInfo register(RegisterModelRequest request) {
    return stub().registerModel(request);
  }

  /** Removes a model (admin). */
  public ModelInfo unregister(String name) {
    return stub().unregisterModel(UnregisterModelRequest.newBuilder().setName(name).build()).getRemoved();
  }

  public List<ModelInfo> list() {
    return stub().listModels(ListModelsRequest.getDefaultInstance()).getModelsList();
  }

  public ModelInfo get(String name) {
    return stub().getModel(GetModelRequest.newBuilder().setName(name).build());
  }

  /** Polls GetModel until the model is SERVING (and not re-purifying) or FAILED, or the timeout passes. */
  public ModelInfo awaitSettled(String name, Duration timeout) throws InterruptedException {
    long end = System.nanoTime() + timeout.toNanos();
    for (;;) {
      ModelInfo m = get(name);
      if (m.getState() == ModelState.SERVING || m.getState() == ModelState.FAILED) {
        return m;
      }
      if (System.nanoTime() > end) {
        return m;
      }
      Thread.sleep(50);
    }
  }

  /**
   * Re-purifies a model (admin), calling {@code onProgress} for every progress message, and returns the model
   * after the swap. Blocks until the defence ends; no deadline.
   */
  public ModelInfo defend(String name, DefenceSettings settings, boolean ignoreCache,
      Consumer<DefendProgress> onProgress) {
    Objects.requireNonNull(onProgress, "onProgress");
    DefendRequest.Builder r = DefendRequest.newBuilder().setName(name).setIgnoreCache(ignoreCache);
    if (settings != null) {
      r.setSettings(settings);
    }
    Iterator<DefendProgress> it = blocking.defend(r.build());
    ModelInfo last = null;
    while (it.hasNext()) {
      DefendProgress p = it.next();
      onProgress.accept(p);
      if (p.getDone()) {
        last = p.getModel();
      }
    }
    if (last == null) {
      throw new IllegalStateException("the Defend stream of " + name + " ended without a final message");
    }
    return last;
  }

  /** The attack-probe report; {@code refresh} runs the probe now. */
  public ProbeReport probe(String name, boolean refresh) {
    return blocking.withDeadlineAfter(Math.max(deadline.toMillis(), 600_000), TimeUnit.MILLISECONDS)
        .getProbeReport(GetProbeReportRequest.newBuilder().setName(name).setRefresh(refresh).build());
  }

  /** The async stub (ClassifyStream for high-rate callers), with the token attached. */
  public FinemixGrpc.FinemixStub asyncStub() {
    return async;
  }

  @Override
  public void close() {
    if (owned != null) {
      owned.shutdown();
      try {
        if (!owned.awaitTermination(5, TimeUnit.SECONDS)) {
          owned.shutdownNow();
        }
      } catch (InterruptedException e) {
        owned.shutdownNow();
        Thread.currentThread().interrupt();
      }
    }
  }
}

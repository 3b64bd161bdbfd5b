package dev.finemix.server.grpc;

import dev.finemix.proto.v1.ClassifyRequest;
import dev.finemix.proto.v1.ClassifyResponse;
import dev.finemix.proto.v1.ClassifyStreamRequest;
import dev.finemix.proto.v1.ClassifyStreamResponse;
import dev.finemix.proto.v1.DefendProgress;
import dev.finemix.proto.v1.DefendRequest;
import dev.finemix.proto.v1.FinemixGrpc;
import dev.finemix.proto.v1.GetModelRequest;
import dev.finemix.proto.v1.GetProbeReportRequest;
import dev.finemix.proto.v1.ListModelsRequest;
import dev.finemix.proto.v1.ListModelsResponse;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.Prediction;
import dev.finemix.proto.v1.ProbeReport;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.proto.v1.UnregisterModelRequest;
import dev.finemix.proto.v1.UnregisterModelResponse;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.ModelSpec;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.loading.Scores;
import dev.finemix.server.loading.TextRow;
import dev.finemix.server.metrics.ServerMetrics;
import dev.finemix.server.registry.Classification;
import dev.finemix.server.registry.ModelManager;
import io.grpc.Context;
import io.grpc.Deadline;
import io.grpc.Status;
import io.grpc.stub.ServerCallStreamObserver;
import io.grpc.stub.StreamObserver;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/** finemix.v1.Finemix: thin adapters from proto to {@link ModelManager}; errors through {@link GrpcErrors}. */
final class FinemixService extends FinemixGrpc.FinemixImplBase {
  /** Requests of one ClassifyStream in flight at once; the next are read as earlier ones complete. */
  static final int STREAM_WINDOW = 64;
  private final ModelManager models;
  private final ServerConfig config;
  private final ServerMetrics metrics;
  private final Ticker ticker;
  private final RequestValidator validator;

  FinemixService(ModelManager models, ServerMetrics metrics, Ticker ticker) {
    this.models = models;
    this.config = models.config();
    this.metrics = metrics;
    this.ticker = ticker;
    this.validator = new RequestValidator(config.limits());
  }

  @Override
  public void classify(ClassifyRequest request, StreamObserver<ClassifyResponse> observer) {
    long start = ticker.read();
    reply(request.getModel(), "Classify", start, classifyAsync(request), observer);
  }

  /**
   * Answers a unary call with what {@code f} completes with (also ModelInfer's, from {@link InferenceService}):
   * a cancelled call cancels {@code f}, the outcome goes into the metrics, a failure through {@link GrpcErrors}.
   */
  <T> void reply(String model, String method, long start, CompletableFuture<T> f, StreamObserver<T> observer) {
    ServerCallStreamObserver<T> so = (ServerCallStreamObserver<T>) observer;
    so.setOnCancelHandler(() -> f.cancel(false));
    f.whenComplete((resp, err) -> {
      record(model, method, err, start);
      if (so.isCancelled()) {
        return;
      }
      if (err != null) {
        observer.onError(GrpcErrors.toStatusException(err));
      } else {
        observer.onNext(resp);
        observer.onCompleted();
      }
    });
  }

  @Override
  public StreamObserver<ClassifyStreamRequest> classifyStream(StreamObserver<ClassifyStreamResponse> observer) {
    ServerCallStreamObserver<ClassifyStreamResponse> so = (ServerCallStreamObserver<ClassifyStreamResponse>) observer;
    AtomicInteger outstanding = new AtomicInteger(1); // 1 = the request stream is still open
    AtomicBoolean finished = new AtomicBoolean();
    Object lock = new Object();
    Runnable maybeFinish = () -> {
      if (outstanding.decrementAndGet() == 0 && finished.compareAndSet(false, true)) {
        synchronized (lock) {
          if (!so.isCancelled()) {
            observer.onCompleted();
          }
        }
      }
    };
    so.setOnCancelHandler(() -> finished.set(true));
    // inbound flow control: at most STREAM_WINDOW requests of one stream in flight at a time
    so.disableAutoRequest();
    so.request(STREAM_WINDOW);
    return new StreamObserver<>() {
      @Override
      public void onNext(ClassifyStreamRequest msg) {
        outstanding.incrementAndGet();
        long start = ticker.read();
        classifyAsync(msg.getRequest()).whenComplete((resp, err) -> {
          record(msg.getRequest().getModel(), "ClassifyStream", err, start);
          ClassifyStreamResponse.Builder out = ClassifyStreamResponse.newBuilder().setRequestId(msg.getRequestId());
          if (err != null) {
            out.setError(GrpcErrors.toRpcStatus(err));
          } else {
            out.setResponse(resp);
          }
          synchronized (lock) {
            if (!finished.get() && !so.isCancelled()) {
              observer.onNext(out.build());
            }
          }
          maybeFinish.run();
          if (!finished.get()) {
            so.request(1);
          }
        });
      }

      @Override
      public void onError(Throwable t) {
        finished.set(true);
      }

      @Override
      public void onCompleted() {
        maybeFinish.run();
      }
    };
  }

  /** Validates and classifies; never throws, failures complete the future exceptionally. */
  CompletableFuture<ClassifyResponse> classifyAsync(ClassifyRequest request) {
    try {
      validator.requireModel("model", request.getModel());
      List<TextRow> rows = validator.rows(request.getTextsList(), request.getPairsList());
      return models.classify(request.getModel(), rows, request.getPairsCount() > 0, deadlineNanos())
          .thenApply(c -> response(request.getModel(), c));
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  static ClassifyResponse response(String model, Classification c) {
    ClassifyResponse.Builder b = ClassifyResponse.newBuilder().setModel(model).setWeightsSha256(c.weightsSha256());
    for (Scores s : c.scores()) {
      Prediction.Builder p = Prediction.newBuilder().setLabel(s.label())
          .setLabelName(s.label() < c.labels().size() ? c.labels().get(s.label()) : Integer.toString(s.label()));
      for (float v : s.probabilities()) {
        p.addScores(v);
      }
      if (s.suspicion() != null) {
        p.setSuspicion(ProtoMapping.suspicion(s.suspicion()));
      }
      b.addPredictions(p);
    }
    return b.build();
  }

  long deadlineNanos() {
    Deadline d = Context.current().getDeadline();
    if (d == null) {
      return Long.MAX_VALUE;
    }
    return ticker.read() + d.timeRemaining(TimeUnit.NANOSECONDS);
  }

  @Override
  public void registerModel(RegisterModelRequest request, StreamObserver<ModelInfo> observer) {
    GrpcErrors.unary(observer, () -> {
      ModelSpec spec = config.resolve(ProtoMapping.layer(request));
      return ProtoMapping.info(models.register(spec, request.getReplace()));
    });
  }

  @Override
  public void unregisterModel(UnregisterModelRequest request, StreamObserver<UnregisterModelResponse> observer) {
    GrpcErrors.unary(observer, () -> {
      validator.requireModel("name", request.getName());
      return UnregisterModelResponse.newBuilder().setRemoved(ProtoMapping.info(models.unregister(request.getName())))
          .build();
    });
  }

  @Override
  public void listModels(ListModelsRequest request, StreamObserver<ListModelsResponse> observer) {
    GrpcErrors.unary(observer, () -> {
      ListModelsResponse.Builder b = ListModelsResponse.newBuilder();
      models.list().forEach(v -> b.addModels(ProtoMapping.info(v)));
      return b.build();
    });
  }

  @Override
  public void getModel(GetModelRequest request, StreamObserver<ModelInfo> observer) {
    GrpcErrors.unary(observer, () -> {
      validator.requireModel("name", request.getName());
      return ProtoMapping.info(models.get(request.getName()));
    });
  }

  @Override
  public void defend(DefendRequest request, StreamObserver<DefendProgress> observer) {
    ServerCallStreamObserver<DefendProgress> so = (ServerCallStreamObserver<DefendProgress>) observer;
    Object lock = new Object();
    try {
      validator.requireModel("name", request.getName());
      var override = ProtoMapping.defence(request.getSettings(), "settings");
      models.defend(request.getName(), override, request.getIgnoreCache(), p -> {
        synchronized (lock) {
          if (!so.isCancelled()) {
            observer.onNext(ProtoMapping.progress(p));
          }
        }
      }).whenComplete((view, err) -> {
        synchronized (lock) {
          if (so.isCancelled()) {
            return; // the Defend goes on; GetModel shows its outcome
          }
          if (err != null) {
            observer.onError(GrpcErrors.toStatusException(err));
          } else {
            observer.onNext(DefendProgress.newBuilder().setStage("done").setPercent(100).setDone(true)
                .setMessage("serving " + view.servedSha256()).setEtaMillis(0).setLoss(Double.NaN)
                .setModel(ProtoMapping.info(view)).build());
            observer.onCompleted();
          }
        }
      });
    } catch (RuntimeException e) {
      observer.onError(GrpcErrors.toStatusException(e));
    }
  }

  @Override
  public void getProbeReport(GetProbeReportRequest request, StreamObserver<ProbeReport> observer) {
    try {
      validator.requireModel("name", request.getName());
      models.probe(request.getName(), request.getRefresh()).whenComplete((r, err) -> {
        if (err != null) {
          observer.onError(GrpcErrors.toStatusException(err));
          return;
        }
        ProbeReport out;
        try {
          out = ProtoMapping.probe(request.getName(), r, models.suspectedTriggerRequests(request.getName()),
              models.screening(request.getName()));
        } catch (RuntimeException e) { // unregistered meanwhile
          observer.onError(GrpcErrors.toStatusException(e));
          return;
        }
        observer.onNext(out);
        observer.onCompleted();
      });
    } catch (RuntimeException e) {
      observer.onError(GrpcErrors.toStatusException(e));
    }
  }

  Ticker ticker() {
    return ticker;
  }

  /** One call into {@code finemix_request_duration_seconds} (also ModelInfer's, from {@link InferenceService}). */
  void record(String model, String method, Throwable err, long start) {
    String code = err == null ? "OK" : Status.fromCodeValue(GrpcErrors.toRpcStatus(err).getCode()).getCode().name();
    // label only registered names, so random model names in bad requests cannot grow the series without bound
    String label = models.isRegistered(model) ? model : "_unknown";
    metrics.request(label, method, code, (ticker.read() - start) / 1e9);
  }
}

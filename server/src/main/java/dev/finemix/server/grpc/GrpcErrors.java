package dev.finemix.server.grpc;

import com.google.protobuf.Any;
import com.google.rpc.BadRequest;
import com.google.rpc.Code;
import com.google.rpc.ErrorInfo;
import com.google.rpc.PreconditionFailure;
import com.google.rpc.RetryInfo;
import dev.finemix.server.errors.ServiceException;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.StatusRuntimeException;
import io.grpc.protobuf.StatusProto;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The one place our exceptions become gRPC statuses with {@code google.rpc} details (ErrorInfo always,
 * BadRequest for bad fields, PreconditionFailure for unmet preconditions such as a suspected trigger, RetryInfo
 * when retrying helps). Never hands a raw exception to a client.
 */
public final class GrpcErrors {
  /** ErrorInfo.domain of every finemix error. */
  public static final String DOMAIN = "finemix.dev";
  /** Longest message or field-violation text sent; see {@link #bounded}. */
  private static final int MAX_TEXT_CHARS = 1024;
  private static final Logger LOG = Logger.getLogger(GrpcErrors.class.getName());

  private GrpcErrors() {
  }

  /** The {@code google.rpc.Status} for a failure (also used per message on ClassifyStream). */
  public static com.google.rpc.Status toRpcStatus(Throwable t) {
    Throwable c = unwrap(t);
    if (c instanceof ServiceException se) {
      return fromService(se);
    }
    if (c instanceof StatusRuntimeException || c instanceof StatusException) {
      com.google.rpc.Status s = StatusProto.fromThrowable(c);
      if (s != null) {
        return s;
      }
      Status st = Status.fromThrowable(c);
      return com.google.rpc.Status.newBuilder().setCode(st.getCode().value())
          .setMessage(st.getDescription() == null ? "" : st.getDescription()).build();
    }
    if (c instanceof CancellationException) {
      return com.google.rpc.Status.newBuilder().setCode(Code.CANCELLED_VALUE).setMessage("cancelled").build();
    }
    LOG.log(Level.SEVERE, "unexpected server error", c);
    return com.google.rpc.Status.newBuilder().setCode(Code.INTERNAL_VALUE)
        .setMessage("internal error: " + c.getClass().getSimpleName() + " (see the server log)")
        .addDetails(Any.pack(ErrorInfo.newBuilder().setDomain(DOMAIN).setReason("INTERNAL").build()))
        .build();
  }

  /** Answers a unary call with {@code body}'s result, or with the mapped status when it throws. */
  public static <T> void unary(io.grpc.stub.StreamObserver<T> observer, java.util.function.Supplier<T> body) {
    T out;
    try {
      out = body.get();
    } catch (RuntimeException e) {
      observer.onError(toStatusException(e));
      return;
    }
    observer.onNext(out);
    observer.onCompleted();
  }

  /** The exception to pass to {@code StreamObserver.onError}. */
  public static StatusRuntimeException toStatusException(Throwable t) {
    return StatusProto.toStatusRuntimeException(toRpcStatus(t));
  }

  private static com.google.rpc.Status fromService(ServiceException se) {
    Status.Code code = Status.Code.valueOf(se.reason().grpcCode());
    com.google.rpc.Status.Builder b = com.google.rpc.Status.newBuilder().setCode(code.value())
        .setMessage(bounded(se.getMessage()));
    ErrorInfo.Builder info = ErrorInfo.newBuilder().setDomain(DOMAIN).setReason(se.reason().name());
    if (se.model() != null) {
      info.putMetadata("model", se.model());
    }
    info.putAllMetadata(se.metadata());
    b.addDetails(Any.pack(info.build()));
    if (!se.preconditions().isEmpty()) {
      PreconditionFailure.Builder pf = PreconditionFailure.newBuilder();
      se.preconditions().forEach(v -> pf.addViolations(PreconditionFailure.Violation.newBuilder().setType(v.type())
          .setSubject(v.subject()).setDescription(v.description())));
      b.addDetails(Any.pack(pf.build()));
    }
    if (!se.violations().isEmpty()) {
      BadRequest.Builder br = BadRequest.newBuilder();
      se.violations().forEach(v -> br.addFieldViolations(
          BadRequest.FieldViolation.newBuilder().setField(bounded(v.field())).setDescription(bounded(v.description()))));
      b.addDetails(Any.pack(br.build()));
    }
    if (se.retryAfter() != null) {
      b.addDetails(Any.pack(RetryInfo.newBuilder().setRetryDelay(com.google.protobuf.Duration.newBuilder()
          .setSeconds(se.retryAfter().getSeconds()).setNanos(se.retryAfter().getNano())).build()));
    }
    return b.build();
  }

  /**
   * The backstop behind {@link ServiceException#shown}: the status goes out twice in the trailers (grpc-message and
   * grpc-status-details-bin), and a stock client refuses trailers over 8 KiB, so no text of ours may grow with the
   * request.
   */
  private static String bounded(String s) {
    return s.length() <= MAX_TEXT_CHARS ? s : s.substring(0, MAX_TEXT_CHARS) + "...";
  }

  private static Throwable unwrap(Throwable t) {
    Throwable c = t;
    while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) {
      c = c.getCause();
    }
    return c;
  }
}

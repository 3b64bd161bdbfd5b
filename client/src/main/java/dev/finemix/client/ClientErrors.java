package dev.finemix.client;

import com.google.protobuf.Any;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.rpc.BadRequest;
import com.google.rpc.ErrorInfo;
import com.google.rpc.PreconditionFailure;
import com.google.rpc.RetryInfo;
import io.grpc.protobuf.StatusProto;
import java.util.Optional;

/** Reads the {@code google.rpc} details finemix attaches to its errors. */
public final class ClientErrors {
  private ClientErrors() {
  }

  /** ErrorInfo (reason such as MODEL_NOT_FOUND, QUEUE_FULL), when present. */
  public static Optional<ErrorInfo> errorInfo(Throwable t) {
    return detail(t, ErrorInfo.class);
  }

  /** BadRequest field violations, when present. */
  public static Optional<BadRequest> badRequest(Throwable t) {
    return detail(t, BadRequest.class);
  }

  /** PreconditionFailure, when present (e.g. inputs a model's screening rejected, one violation per input). */
  public static Optional<PreconditionFailure> preconditionFailure(Throwable t) {
    return detail(t, PreconditionFailure.class);
  }

  /** RetryInfo, when present (model still loading or purifying). */
  public static Optional<RetryInfo> retryInfo(Throwable t) {
    return detail(t, RetryInfo.class);
  }

  /** A one-line description: code, message and the bad fields. */
  public static String describe(Throwable t) {
    com.google.rpc.Status s = StatusProto.fromThrowable(t);
    if (s == null) {
      return t.toString();
    }
    StringBuilder b = new StringBuilder(io.grpc.Status.fromCodeValue(s.getCode()).getCode().name()).append(": ")
        .append(s.getMessage());
    badRequest(t).ifPresent(br -> br.getFieldViolationsList().forEach(v -> b.append("\n  ").append(v.getField())
        .append(": ").append(v.getDescription())));
    preconditionFailure(t).ifPresent(pf -> pf.getViolationsList().forEach(v -> b.append("\n  ")
        .append(v.getSubject()).append(": ").append(v.getDescription())));
    return b.toString();
  }

  private static <T extends com.google.protobuf.Message> Optional<T> detail(Throwable t, Class<T> type) {
    com.google.rpc.Status s = StatusProto.fromThrowable(t);
    if (s == null) {
      return Optional.empty();
    }
    for (Any a : s.getDetailsList()) {
      if (a.is(type)) {
        try {
          return Optional.of(a.unpack(type));
        } catch (InvalidProtocolBufferException e) {
          return Optional.empty();
        }
      }
    }
    return Optional.empty();
  }
}

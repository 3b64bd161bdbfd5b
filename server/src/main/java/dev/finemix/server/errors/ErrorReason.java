package dev.finemix.server.errors;

/**
 * Why a request failed, as sent in {@code google.rpc.ErrorInfo.reason}. Each reason maps to exactly one
 * gRPC status code (by name, so this package needs no gRPC); the mapping lives in {@code grpc.GrpcErrors}.
 */
public enum ErrorReason {
  MODEL_NOT_FOUND("NOT_FOUND"),
  MODEL_EXISTS("ALREADY_EXISTS"),
  INVALID_INPUT("INVALID_ARGUMENT"),
  BASE_MISMATCH("INVALID_ARGUMENT"),
  QUEUE_FULL("RESOURCE_EXHAUSTED"),
  MODEL_NOT_READY("UNAVAILABLE"),
  SHUTTING_DOWN("UNAVAILABLE"),
  WRONG_INPUT_KIND("FAILED_PRECONDITION"),
  MODEL_FAILED("FAILED_PRECONDITION"),
  MODEL_BUSY("FAILED_PRECONDITION"),
  SUSPECTED_TRIGGER("FAILED_PRECONDITION"),
  UNPURIFIED_NOT_ALLOWED("FAILED_PRECONDITION"),
  PURIFICATION_FAILED("ABORTED"),
  DEADLINE_EXCEEDED("DEADLINE_EXCEEDED"),
  UNAUTHENTICATED("UNAUTHENTICATED"),
  INFERENCE_FAILED("INTERNAL");

  private final String grpcCode;

  ErrorReason(String grpcCode) {
    this.grpcCode = grpcCode;
  }

  /** Name of the {@code io.grpc.Status.Code} this reason maps to. */
  public String grpcCode() {
    return grpcCode;
  }
}

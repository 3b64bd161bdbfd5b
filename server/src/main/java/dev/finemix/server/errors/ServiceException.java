package dev.finemix.server.errors;

import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * The one exception type for failures a caller should see with a precise status: every service-level
 * error is built here, and {@code grpc.GrpcErrors} turns it into a {@code Status} with details.
 */
public final class ServiceException extends RuntimeException {
  /** One bad field, sent as a {@code google.rpc.BadRequest.FieldViolation}. */
  public record FieldViolation(String field, String description) {
    public FieldViolation {
      Objects.requireNonNull(field, "field");
      Objects.requireNonNull(description, "description");
    }
  }

  private final ErrorReason reason;
  private final List<FieldViolation> violations;
  private final Duration retryAfter;
  private final String model;

  private ServiceException(ErrorReason reason, String message, String model, List<FieldViolation> violations,
      Duration retryAfter, Throwable cause) {
    super(message, cause);
    this.reason = Objects.requireNonNull(reason, "reason");
    this.model = model;
    this.violations = List.copyOf(violations);
    this.retryAfter = retryAfter;
  }

  public ErrorReason reason() {
    return reason;
  }

  /** The model the error concerns, or null. */
  public String model() {
    return model;
  }

  public List<FieldViolation> violations() {
    return violations;
  }

  /** How long to wait before retrying, or null when retrying does not help. */
  public Duration retryAfter() {
    return retryAfter;
  }

  public static ServiceException modelNotFound(String name) {
    return new ServiceException(ErrorReason.MODEL_NOT_FOUND, "no model named '" + name + "' is registered",
        name, List.of(), null, null);
  }

  public static ServiceException modelExists(String name) {
    return new ServiceException(ErrorReason.MODEL_EXISTS,
        "a model named '" + name + "' is already registered (set replace to overwrite it)", name, List.of(), null, null);
  }

  public static ServiceException badRequest(String field, String description) {
    return badRequest(List.of(new FieldViolation(field, description)));
  }

  public static ServiceException badRequest(List<FieldViolation> violations) {
    if (violations.isEmpty()) {
      throw new IllegalArgumentException("a bad request needs at least one field violation");
    }
    FieldViolation first = violations.get(0);
    String msg = first.field() + ": " + first.description()
        + (violations.size() > 1 ? " (and " + (violations.size() - 1) + " more)" : "");
    return new ServiceException(ErrorReason.INVALID_INPUT, msg, null, violations, null, null);
  }

  public static ServiceException queueFull(String model, int capacity) {
    return new ServiceException(ErrorReason.QUEUE_FULL, "the queue of model '" + model + "' is full ("
        + capacity + " requests); retry with back-off", model, List.of(), null, null);
  }

  public static ServiceException notReady(String model, String state, Duration retryAfter) {
    return new ServiceException(ErrorReason.MODEL_NOT_READY, "model '" + model + "' is " + state
        + " and does not serve yet", model, List.of(), retryAfter, null);
  }

  public static ServiceException shuttingDown(String model) {
    return new ServiceException(ErrorReason.SHUTTING_DOWN, "model '" + model + "' is shutting down or was removed",
        model, List.of(), null, null);
  }

  public static ServiceException wrongInputKind(String model, String expected, String got) {
    return new ServiceException(ErrorReason.WRONG_INPUT_KIND, "model '" + model + "' takes " + expected
        + " inputs but the request sent " + got, model, List.of(), null, null);
  }

  public static ServiceException modelFailed(String model, String why) {
    return new ServiceException(ErrorReason.MODEL_FAILED, "model '" + model + "' failed to load: " + why
        + " (register it again to retry)", model, List.of(), null, null);
  }

  public static ServiceException busy(String model, String what) {
    return new ServiceException(ErrorReason.MODEL_BUSY, "model '" + model + "' is busy: " + what, model,
        List.of(), null, null);
  }

  public static ServiceException purificationFailed(String model, String why, Throwable cause) {
    return new ServiceException(ErrorReason.PURIFICATION_FAILED, "purification of model '" + model + "' failed: "
        + why, model, List.of(), null, cause);
  }

  public static ServiceException deadlineExceeded(String model) {
    return new ServiceException(ErrorReason.DEADLINE_EXCEEDED, "the deadline passed while the request waited in the queue of model '"
        + model + "'", model, List.of(), null, null);
  }

  public static ServiceException unauthenticated(String why) {
    return new ServiceException(ErrorReason.UNAUTHENTICATED, why, null, List.of(), null, null);
  }

  public static ServiceException inferenceFailed(String model, Throwable cause) {
    return new ServiceException(ErrorReason.INFERENCE_FAILED, "inference of model '" + model + "' failed: "
        + cause, model, List.of(), null, cause);
  }
}

package dev.finemix.server.errors;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

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

  /** One unmet precondition, sent as a {@code google.rpc.PreconditionFailure.Violation}. */
  public record PreconditionViolation(String type, String subject, String description) {
    public PreconditionViolation {
      Objects.requireNonNull(type, "type");
      Objects.requireNonNull(subject, "subject");
      Objects.requireNonNull(description, "description");
    }
  }

  /**
   * One input that request-time screening flagged.
   *
   * @param subject the request field holding it, e.g. {@code texts[3]}
   * @param index its index in the request
   */
  public record FlaggedInput(String subject, int index, double score, double threshold, List<String> tokens) {
    public FlaggedInput {
      Objects.requireNonNull(subject, "subject");
      tokens = List.copyOf(tokens);
    }
  }

  private final ErrorReason reason;
  private final List<FieldViolation> violations;
  private final List<PreconditionViolation> preconditions;
  private final Map<String, String> metadata;
  private final Duration retryAfter;
  private final String model;

  private ServiceException(ErrorReason reason, String message, String model, List<FieldViolation> violations,
      Duration retryAfter, Throwable cause) {
    this(reason, message, model, violations, List.of(), Map.of(), retryAfter, cause);
  }

  private ServiceException(ErrorReason reason, String message, String model, List<FieldViolation> violations,
      List<PreconditionViolation> preconditions, Map<String, String> metadata, Duration retryAfter, Throwable cause) {
    super(message, cause);
    this.reason = Objects.requireNonNull(reason, "reason");
    this.model = model;
    this.violations = List.copyOf(violations);
    this.preconditions = List.copyOf(preconditions);
    this.metadata = Map.copyOf(metadata);
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

  /** Unmet preconditions, sent as a {@code google.rpc.PreconditionFailure}; empty for most errors. */
  public List<PreconditionViolation> preconditions() {
    return preconditions;
  }

  /** Extra {@code ErrorInfo.metadata} entries (besides {@code model}). */
  public Map<String, String> metadata() {
    return metadata;
  }

  /** How long to wait before retrying, or null when retrying does not help. */
  public Duration retryAfter() {
    return retryAfter;
  }

  /** Longest caller-supplied value echoed into an error (message, ErrorInfo metadata) before it is cut. */
  public static final int MAX_ECHO_CHARS = 128;

  /**
   * A caller-supplied value as errors echo it: at most {@value #MAX_ECHO_CHARS} characters, longer ones cut with an
   * ellipsis and their length, so an error's trailers stay far below a client's 8 KiB metadata limit (a 3,000
   * character model name echoed whole made stock clients fail on metadata size instead of seeing NOT_FOUND).
   */
  public static String shown(String value) {
    if (value == null || value.length() <= MAX_ECHO_CHARS) {
      return value;
    }
    int end = Character.isHighSurrogate(value.charAt(MAX_ECHO_CHARS - 1)) ? MAX_ECHO_CHARS - 1 : MAX_ECHO_CHARS;
    return value.substring(0, end) + "... (" + value.length() + " characters)";
  }

  public static ServiceException modelNotFound(String name) {
    String shown = shown(name);
    return new ServiceException(ErrorReason.MODEL_NOT_FOUND, "no model named '" + shown + "' is registered",
        shown, List.of(), null, null);
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

  /**
   * A suspect registered against a base it was not fine-tuned from: INVALID_ARGUMENT on field {@code base_model},
   * with metadata {@code base_model} (the claimed base) and {@code matching_bases} (comma-separated, empty when no
   * known base matches), so a client can retry with the right one.
   *
   * @param why purify's refusal: the shapes or weight distance that differ, and the bases that match
   */
  public static ServiceException baseMismatch(String claimed, List<String> matching, String why) {
    return new ServiceException(ErrorReason.BASE_MISMATCH, "base_model: " + why, null,
        List.of(new FieldViolation("base_model", why)), List.of(),
        Map.of("base_model", shown(claimed), "matching_bases", shown(String.join(",", matching))), null, null);
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

  /**
   * A request refused by the screening policy {@code reject}: one precondition violation per flagged input (type
   * {@code SUSPECTED_TRIGGER}, subject the input's field, the score, threshold and tokens in the description), and
   * metadata {@code inputs} (flagged indexes) and {@code tokens} (their distinct flagged tokens), comma-separated.
   */
  public static ServiceException suspectedTrigger(String model, int inputs, List<FlaggedInput> flagged) {
    if (flagged.isEmpty()) {
      throw new IllegalArgumentException("a suspected-trigger error needs at least one flagged input");
    }
    List<PreconditionViolation> v = new ArrayList<>();
    Set<String> tokens = new LinkedHashSet<>();
    List<String> indexes = new ArrayList<>();
    for (FlaggedInput f : flagged) {
      v.add(new PreconditionViolation(ErrorReason.SUSPECTED_TRIGGER.name(), f.subject(), String.format(Locale.ROOT,
          "suspicion %.4g is above the threshold %.4g; suspected trigger tokens: %s", f.score(), f.threshold(),
          f.tokens().isEmpty() ? "(none named)" : String.join(", ", f.tokens()))));
      tokens.addAll(f.tokens());
      indexes.add(Integer.toString(f.index()));
    }
    FlaggedInput first = flagged.get(0);
    String msg = "model '" + model + "' refused the request (screening policy reject): " + flagged.size() + " of "
        + inputs + " inputs look triggered, first " + first.subject() + " with tokens " + first.tokens();
    return new ServiceException(ErrorReason.SUSPECTED_TRIGGER, msg, model, List.of(), v,
        Map.of("inputs", String.join(",", indexes), "tokens", String.join(",", tokens)), null, null);
  }

  /**
   * RegisterModel (or a configured model) with allow_unpurified on a server started without
   * {@code allow_unpurified_models}: the admin token alone does not let a caller serve a checkpoint as is.
   */
  public static ServiceException unpurifiedNotAllowed(String model) {
    return new ServiceException(ErrorReason.UNPURIFIED_NOT_ALLOWED, "model '" + model + "' asks for"
        + " allow_unpurified, but this server does not serve unpurified checkpoints (start it with"
        + " --allow-unpurified-models or allow_unpurified_models: true to permit them)", model, List.of(),
        List.of(new PreconditionViolation(ErrorReason.UNPURIFIED_NOT_ALLOWED.name(), "allow_unpurified",
            "the server setting allow_unpurified_models is false")), Map.of(), null, null);
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

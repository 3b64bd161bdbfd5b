package dev.finemix.server.auth;

import dev.finemix.server.errors.ServiceException;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;

/**
 * Requires {@code authorization: Bearer <token>} on the protected methods (full gRPC method names); compares in
 * constant time. Refusals are UNAUTHENTICATED, built by the caller-supplied error mapper.
 */
public final class AuthInterceptor implements ServerInterceptor {
  public static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private final byte[] token;
  private final Set<String> protectedMethods;
  private final Function<Throwable, io.grpc.StatusRuntimeException> errors;

  public AuthInterceptor(String token, Set<String> protectedMethods,
      Function<Throwable, io.grpc.StatusRuntimeException> errors) {
    this.token = Objects.requireNonNull(token, "token").getBytes(StandardCharsets.UTF_8);
    this.protectedMethods = Set.copyOf(protectedMethods);
    this.errors = Objects.requireNonNull(errors, "errors");
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata headers,
      ServerCallHandler<Q, A> next) {
    String method = call.getMethodDescriptor().getFullMethodName();
    if (!protectedMethods.contains(method)) {
      return next.startCall(call, headers);
    }
    String header = headers.get(AUTHORIZATION);
    String why = null;
    if (header == null) {
      why = method + " needs an admin token: send 'authorization: Bearer <token>' (the token is in the server's"
          + " token file)";
    } else if (!header.regionMatches(true, 0, "Bearer ", 0, 7)
        || !MessageDigest.isEqual(token, header.substring(7).trim().getBytes(StandardCharsets.UTF_8))) {
      why = "the bearer token sent with " + method + " is not the server's admin token";
    }
    if (why != null) {
      io.grpc.StatusRuntimeException e = errors.apply(ServiceException.unauthenticated(why));
      call.close(e.getStatus(), e.getTrailers() == null ? new Metadata() : e.getTrailers());
      return new ServerCall.Listener<>() { };
    }
    return next.startCall(call, headers);
  }
}

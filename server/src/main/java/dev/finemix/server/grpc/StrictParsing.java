package dev.finemix.server.grpc;

import dev.finemix.server.errors.ServiceException;
import io.grpc.ForwardingServerCall;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * Parses requests inside the call instead of in grpc-java's transport code, so a request that is not valid protobuf
 * (for instance a proto3 string that is not UTF-8) gets INVALID_ARGUMENT with google.rpc details; grpc-java itself
 * answers UNKNOWN "Application error processing RPC" when the marshaller throws.
 */
final class StrictParsing {
  private StrictParsing() {
  }

  private static final MethodDescriptor.Marshaller<InputStream> RAW = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(InputStream value) {
      return value;
    }

    @Override
    public InputStream parse(InputStream stream) {
      return stream;
    }
  };

  /** The same service, with every request parsed by {@link #handler}. */
  static ServerServiceDefinition wrap(ServerServiceDefinition def) {
    ServiceDescriptor old = def.getServiceDescriptor();
    ServiceDescriptor.Builder sd = ServiceDescriptor.newBuilder(old.getName())
        .setSchemaDescriptor(old.getSchemaDescriptor());
    java.util.List<ServerMethodDefinition<InputStream, ?>> methods = new java.util.ArrayList<>();
    for (ServerMethodDefinition<?, ?> m : def.getMethods()) {
      ServerMethodDefinition<InputStream, ?> w = wrapMethod(m);
      methods.add(w);
      sd.addMethod(w.getMethodDescriptor());
    }
    ServerServiceDefinition.Builder b = ServerServiceDefinition.builder(sd.build());
    for (ServerMethodDefinition<InputStream, ?> m : methods) {
      b.addMethod(m);
    }
    return b.build();
  }

  private static <ReqT, RespT> ServerMethodDefinition<InputStream, RespT> wrapMethod(
      ServerMethodDefinition<ReqT, RespT> m) {
    MethodDescriptor<ReqT, RespT> typed = m.getMethodDescriptor();
    MethodDescriptor<InputStream, RespT> raw = typed.toBuilder(RAW, typed.getResponseMarshaller()).build();
    return ServerMethodDefinition.create(raw, handler(typed, m.getServerCallHandler()));
  }

  private static <ReqT, RespT> ServerCallHandler<InputStream, RespT> handler(MethodDescriptor<ReqT, RespT> typed,
      ServerCallHandler<ReqT, RespT> inner) {
    return (call, headers) -> {
      Typed<ReqT, RespT> adapter = new Typed<>(call, typed);
      ServerCall.Listener<ReqT> delegate = inner.startCall(adapter, headers);
      return new ServerCall.Listener<>() {
        private boolean failed;

        @Override
        public void onMessage(InputStream message) {
          if (failed) {
            return;
          }
          ReqT request;
          try {
            request = typed.parseRequest(message);
          } catch (RuntimeException e) {
            failed = true;
            if (!adapter.closed) {
              StatusRuntimeException s = GrpcErrors.toStatusException(ServiceException.badRequest("request",
                  "is not a valid " + typed.getFullMethodName() + " request (" + describe(e) + "); strings must be"
                      + " UTF-8"));
              adapter.close(s.getStatus(), s.getTrailers() == null ? new Metadata() : s.getTrailers());
            }
            return;
          } finally {
            try {
              message.close();
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          }
          delegate.onMessage(request);
        }

        @Override
        public void onHalfClose() {
          if (!failed) {
            delegate.onHalfClose();
          }
        }

        @Override
        public void onCancel() {
          delegate.onCancel();
        }

        @Override
        public void onComplete() {
          delegate.onComplete();
        }

        @Override
        public void onReady() {
          if (!failed) {
            delegate.onReady();
          }
        }
      };
    };
  }

  private static String describe(RuntimeException e) {
    Throwable c = e.getCause() != null ? e.getCause() : e;
    return c.getMessage() == null ? c.getClass().getSimpleName() : c.getMessage();
  }

  /**
   * The call as the typed service sees it: everything forwards to the raw call, except the method descriptor, which
   * is the typed one. The cast in {@link #delegate} is safe because no forwarded method takes or returns a request.
   */
  private static final class Typed<ReqT, RespT> extends ForwardingServerCall<ReqT, RespT> {
    private final ServerCall<InputStream, RespT> call;
    private final MethodDescriptor<ReqT, RespT> method;
    volatile boolean closed;

    Typed(ServerCall<InputStream, RespT> call, MethodDescriptor<ReqT, RespT> method) {
      this.call = call;
      this.method = method;
    }

    @Override
    @SuppressWarnings("unchecked")
    protected ServerCall<ReqT, RespT> delegate() {
      return (ServerCall<ReqT, RespT>) (ServerCall<?, RespT>) call;
    }

    @Override
    public void close(Status status, Metadata trailers) {
      closed = true;
      super.close(status, trailers);
    }

    @Override
    public MethodDescriptor<ReqT, RespT> getMethodDescriptor() {
      return method;
    }
  }
}

package dev.finemix.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.proto.inference.GRPCInferenceServiceGrpc;
import dev.finemix.proto.v1.FinemixGrpc;
import io.grpc.Attributes;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.ServerCall;
import io.grpc.Status;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

class FinemixServerCallExecutorTest {

  private static <ReqT, RespT> ServerCall<ReqT, RespT> call(MethodDescriptor<ReqT, RespT> method) {
    return new ServerCall<>() {
      @Override
      public void request(int numMessages) {
      }

      @Override
      public void sendHeaders(Metadata headers) {
      }

      @Override
      public void sendMessage(RespT message) {
      }

      @Override
      public void close(Status status, Metadata trailers) {
      }

      @Override
      public boolean isCancelled() {
        return false;
      }

      @Override
      public Attributes getAttributes() {
        return Attributes.EMPTY;
      }

      @Override
      public MethodDescriptor<ReqT, RespT> getMethodDescriptor() {
        return method;
      }
    };
  }

  @Test
  void unaryInference_runsInline_everythingElseOnThePool() {
    for (MethodDescriptor<?, ?> m : List.of(FinemixGrpc.getClassifyMethod(),
        GRPCInferenceServiceGrpc.getModelInferMethod())) {
      Executor e = FinemixServer.callExecutor(call(m), new Metadata());
      assertThat(e).as(m.getFullMethodName()).isNotNull();
      List<String> ranOn = new ArrayList<>();
      e.execute(() -> ranOn.add(Thread.currentThread().getName()));
      assertThat(ranOn).containsExactly(Thread.currentThread().getName()); // on the calling (transport) thread
    }
    for (MethodDescriptor<?, ?> m : List.of(FinemixGrpc.getRegisterModelMethod(), FinemixGrpc.getDefendMethod(),
        FinemixGrpc.getClassifyStreamMethod(), FinemixGrpc.getUnregisterModelMethod())) {
      assertThat(FinemixServer.callExecutor(call(m), new Metadata())).as(m.getFullMethodName()).isNull();
    }
  }
}

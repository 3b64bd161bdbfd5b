package dev.finemix.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.testing.GrpcCleanupExtension;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8, point 4: many callers classify two models that stay registered while an admin thread re-purifies them
 * (Defend) and registers, uses and unregisters other models, over loopback gRPC with tiny real BERT models. Zero
 * failed calls for the staying models, no deadlock, everything within a bounded count and time.
 * e2e/LoopbackEndToEndTest (defend_underFourConcurrentCallers...) covers Defend alone under load.
 */
@Tag("reliability")
class ConcurrencyStressTest {
  static final int CALLERS = 8;
  static final int CALLS_PER_CALLER = 1_000;
  static final int ADMIN_ROUNDS = 6;
  static final Duration BUDGET = Duration.ofSeconds(20);

  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension(20, TimeUnit.SECONDS);
  @TempDir
  Path tmp;

  @Test
  void classifyDuringDefendRegisterUnregister_zeroFailedCallsForStayingModels_noDeadlock() throws Exception {
    Rig rig = new Rig(tmp);
    for (int i = 0; i < 3; i++) {
      rig.copyTiny("churn-" + i);
    }
    FinemixServer server = cleanup.register(rig.start(NettyServerBuilder.forPort(0), rig.config().toBuilder()
        .models(List.of(Rig.model("stable", "tiny", "single.tsv", null),
            Rig.model("steady", "tiny", "single.tsv", true)))
        .build(),
        new Rig.CheapPurifyBackend()));
    ManagedChannel ch = cleanup.register(NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext()
        .build());
    FinemixClient c = FinemixClient.of(ch, server.adminToken());
    for (String m : List.of("stable", "steady")) {
      assertThat(c.awaitSettled(m, Duration.ofSeconds(60)).getState()).isEqualTo(ModelState.SERVING);
    }

    ExecutorService pool = Executors.newFixedThreadPool(CALLERS + 1);
    AtomicBoolean adminDone = new AtomicBoolean();
    AtomicInteger ok = new AtomicInteger();
    Map<String, AtomicInteger> failures = new ConcurrentHashMap<>();
    List<String> failureSamples = java.util.Collections.synchronizedList(new ArrayList<>());
    Map<String, AtomicInteger> admin = new ConcurrentHashMap<>();
    long start = System.nanoTime();
    List<Future<?>> callers = new ArrayList<>();
    for (int k = 0; k < CALLERS; k++) {
      int id = k;
      callers.add(pool.submit(() -> {
        for (int i = 0; i < CALLS_PER_CALLER && !adminDone.get() && System.nanoTime() - start < BUDGET.toNanos();
            i++) {
          String model = (i + id) % 2 == 0 ? "stable" : "steady";
          try {
            var p = FinemixClient.of(ch, null).classify(model, List.of("a good film " + i, "a dull film"));
            assertThat(p).hasSize(2);
            ok.incrementAndGet();
          } catch (RuntimeException | AssertionError e) {
            failures.computeIfAbsent(model + ":" + Status.fromThrowable(e).getCode(), x -> new AtomicInteger())
                .incrementAndGet();
            if (failureSamples.size() < 5) {
              failureSamples.add(String.valueOf(e));
            }
          }
        }
      }));
    }
    Future<?> adminLoop = pool.submit(() -> {
      int round = 0;
      while (System.nanoTime() - start < BUDGET.toNanos() && round < ADMIN_ROUNDS) {
        String churn = "churn-" + (round % 3);
        try {
          c.defend(round % 2 == 0 ? "stable" : "steady", null, round % 4 < 2, p -> { });
          admin.computeIfAbsent("defend", x -> new AtomicInteger()).incrementAndGet();
          c.register(RegisterModelRequest.newBuilder().setName(churn).setCheckpointPath(churn)
              .setCleanSubsetPath("single.tsv").setAllowUnpurified(round % 2 == 0).build());
          admin.computeIfAbsent("register", x -> new AtomicInteger()).incrementAndGet();
          if (round % 3 != 2) { // sometimes unregister while it is still loading
            c.awaitSettled(churn, Duration.ofSeconds(10));
            try {
              c.classify(churn, List.of("x"));
              admin.computeIfAbsent("classify-churn", x -> new AtomicInteger()).incrementAndGet();
            } catch (StatusRuntimeException e) {
              admin.computeIfAbsent("classify-churn:" + e.getStatus().getCode(), x -> new AtomicInteger())
                  .incrementAndGet();
            }
          }
          c.unregister(churn);
          admin.computeIfAbsent("unregister", x -> new AtomicInteger()).incrementAndGet();
        } catch (RuntimeException e) {
          admin.computeIfAbsent("admin-error:" + Status.fromThrowable(e).getCode() + ":"
              + Status.fromThrowable(e).getDescription(), x -> new AtomicInteger()).incrementAndGet();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
        round++;
      }
      adminDone.set(true); // callers run for as long as the admin churn does
    });
    adminLoop.get(BUDGET.toSeconds() + 60, TimeUnit.SECONDS);
    adminDone.set(true);
    for (Future<?> f : callers) {
      f.get(BUDGET.toSeconds() + 30, TimeUnit.SECONDS);
    }
    pool.shutdown();
    assertThat(pool.awaitTermination(10, TimeUnit.SECONDS)).isTrue();
    long elapsedMs = (System.nanoTime() - start) / 1_000_000;

    long[] deadlocked = ManagementFactory.getThreadMXBean().findDeadlockedThreads();
    System.out.println("[reliability] stress: " + ok.get() + " Classify calls OK, failures " + failures
        + ", admin " + new java.util.TreeMap<>(admin) + ", " + elapsedMs + " ms");
    assertThat(deadlocked).as("deadlocked threads").isNull();
    assertThat(failures).as("failed calls for models that stay registered: %s", failureSamples).isEmpty();
    assertThat(ok.get()).isGreaterThan(CALLERS * 10);
    assertThat(admin.get("defend")).as("admin %s", admin).isNotNull();
    assertThat(admin.get("defend").get()).isGreaterThanOrEqualTo(2);
    assertThat(admin.get("unregister").get()).isGreaterThanOrEqualTo(2);
    assertThat(admin.keySet()).as("admin errors").noneMatch(k -> k.startsWith("admin-error"));
    assertThat(c.list()).extracting(m -> m.getName()).containsExactly("stable", "steady");
    assertThat(c.classify("stable", List.of("still here"))).hasSize(1);
  }
}

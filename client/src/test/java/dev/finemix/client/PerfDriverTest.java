package dev.finemix.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.grpc.Status;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class PerfDriverTest {
  @Test
  void concurrency_stopsAtTheRequestBound_andCountsFailuresByCode() throws Exception {
    AtomicInteger n = new AtomicInteger();
    PerfDriver d = new PerfDriver(t -> {
      if (n.incrementAndGet() % 5 == 0) {
        throw Status.RESOURCE_EXHAUSTED.asRuntimeException();
      }
    }, List.of("a", "b"), 2);
    PerfDriver.Level l = d.concurrency(3, 50, Duration.ofSeconds(10));
    assertThat(l.requests() + l.errors()).isEqualTo(50);
    assertThat(l.errorsByCode()).containsEntry("RESOURCE_EXHAUSTED", 10);
    assertThat(l.rows()).isEqualTo(2 * l.requests());
    assertThat(l.p50Millis()).isLessThanOrEqualTo(l.p90Millis());
    assertThat(l.p90Millis()).isLessThanOrEqualTo(l.p99Millis());
  }

  @Test
  void rate_sendsOnSchedule_withinTheTimeBound() throws Exception {
    PerfDriver d = new PerfDriver(t -> Thread.sleep(1), List.of("a"), 1);
    PerfDriver.Level l = d.rate(100, 8, 1000, Duration.ofMillis(300));
    assertThat(l.requests() + l.errors()).isBetween(20L, 31L);
    assertThat(l.p50Millis()).isGreaterThanOrEqualTo(1.0);
  }

  @Test
  void percentiles_nearestRank_andBadArguments() {
    long[] ns = {1_000_000, 2_000_000, 3_000_000, 4_000_000};
    assertThat(PerfDriver.percentileMillis(ns, 0.5)).isEqualTo(2.0);
    assertThat(PerfDriver.percentileMillis(ns, 0.99)).isEqualTo(4.0);
    assertThat(PerfDriver.percentileMillis(new long[0], 0.5)).isNaN();
    assertThatThrownBy(() -> new PerfDriver(t -> { }, List.of(), 1)).hasMessageContaining("at least one text");
    assertThatThrownBy(() -> new PerfDriver(t -> { }, List.of("a"), 1).concurrency(0, 1, Duration.ofSeconds(1)))
        .hasMessageContaining("concurrency must be >= 1, got 0");
  }
}

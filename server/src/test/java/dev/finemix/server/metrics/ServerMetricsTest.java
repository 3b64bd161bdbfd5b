package dev.finemix.server.metrics;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class ServerMetricsTest {
  @Test
  void batchTotals_sumEveryModelsBatchesAndRows() {
    try (ServerMetrics m = new ServerMetrics(Map::of)) {
      assertThat(m.batchTotals()).isEqualTo(new ServerMetrics.BatchTotals(0, 0));
      m.batch("a", 3);
      m.batch("b", 5);
      m.batch("a", 1);
      assertThat(m.batchTotals()).isEqualTo(new ServerMetrics.BatchTotals(3, 9));
    }
  }
}

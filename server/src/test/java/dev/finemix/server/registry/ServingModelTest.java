package dev.finemix.server.registry;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.server.config.ScreenPolicy;
import dev.finemix.server.loading.Loaded;
import dev.finemix.server.testing.FakeBackend;
import dev.finemix.server.testing.Fixture;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The reference counting that lets a swap retire weights while a batch still runs on them. */
class ServingModelTest {
  @TempDir
  Path tmp;

  @Test
  void retire_whileABatchHoldsTheWeights_closesThemOnlyWhenTheBatchReleases() {
    Fixture f = new Fixture(tmp);
    FakeBackend backend = new FakeBackend();
    ServingModel m = new ServingModel(f.config().resolve(Fixture.sst2()), new Loaded(backend.open(
        f.modelsRoot.resolve("sst2-badnet"), null), "a".repeat(64), false, null, null, List.of("CF"), false,
        ScreenPolicy.OFF, null), Instant.EPOCH);

    assertThat(m.tryAcquire()).isTrue(); // a batch
    m.retire(); // swapped out
    assertThat(backend.closed).hasValue(0);
    m.release(); // the batch ends
    assertThat(backend.closed).hasValue(1);
    assertThat(m.tryAcquire()).as("closed weights are not handed out").isFalse();
    m.retire();
    assertThat(backend.closed).as("closed once").hasValue(1);
    assertThat(m.suspectedWords()).containsExactly("cf");
  }
}

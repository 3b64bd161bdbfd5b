package dev.finemix.server.registry;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.finemix.server.cache.PurifiedCache;
import dev.finemix.server.config.Json;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ModelSpec;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.errors.ErrorReason;
import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.loading.Progress;
import dev.finemix.server.loading.TextRow;
import dev.finemix.server.metrics.ServerMetrics;
import dev.finemix.server.probe.ProbeReport;
import dev.finemix.server.testing.FakeBackend;
import dev.finemix.server.testing.FakeTicker;
import dev.finemix.server.testing.Fixture;
import dev.finemix.server.testing.ManualExecutor;
import dev.finemix.server.testing.MutableClock;
import dev.finemix.server.testing.StateWatch;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The model registry without gRPC: the fake backend, a work pool the test steps by hand (loads, Defends and probes
 * run when the test runs them, so states are asserted between steps, never waited for), inference inline, a fake
 * clock and ticker, and a real purified-weight cache in a temporary folder.
 */
class ModelManagerTest {
  @TempDir
  Path tmp;
  final FakeBackend backend = new FakeBackend();
  final ManualExecutor work = new ManualExecutor();
  final FakeTicker ticker = new FakeTicker();
  final MutableClock clock = new MutableClock();
  final StateWatch events = new StateWatch();
  ServerConfig config;
  PurifiedCache cache;
  ModelManager models;

  @BeforeEach
  void start() {
    Fixture f = new Fixture(tmp);
    config = f.config();
    cache = new PurifiedCache(f.cacheDir, 1L << 30, clock, PurifiedCache.Listener.NONE);
    models = new ModelManager(config, backend, cache, new ServerMetrics(Map::of), Runnable::run, work, ticker, clock);
    models.addListener(events);
  }

  @AfterEach
  void stop() {
    models.close();
    cache.close();
  }

  private ModelSpec sst2() {
    return config.resolve(Fixture.sst2());
  }

  /** Registers the fixture's sst2 model and runs its load and the probe after it. */
  private ModelView serveSst2() {
    models.register(sst2(), false);
    work.runAll();
    ModelView v = models.get("sst2");
    assertThat(v.state()).as(v.failureReason()).isEqualTo(ModelState.SERVING);
    return v;
  }

  private Classification classify(String text) {
    return models.classify("sst2", List.of(TextRow.single(text)), false, Long.MAX_VALUE).join();
  }

  private static ErrorReason reason(CompletableFuture<?> f) {
    try {
      f.join();
    } catch (CompletionException e) {
      assertThat(e.getCause()).isInstanceOf(ServiceException.class);
      return ((ServiceException) e.getCause()).reason();
    }
    throw new AssertionError("expected a failure");
  }

  @Test
  void register_loadingUntilTheWorkPoolRunsTheLoad_thenPurifiedWeightsServe() {
    ModelView registered = models.register(sst2(), false);

    assertThat(registered.state()).isEqualTo(ModelState.LOADING);
    assertThat(registered.servedSha256()).isNull();
    assertThat(reason(models.classify("sst2", List.of(TextRow.single("a")), false, Long.MAX_VALUE)))
        .isEqualTo(ErrorReason.MODEL_NOT_READY);
    clock.advance(Duration.ofMinutes(3));
    work.runNext(); // the load

    ModelView v = models.get("sst2");
    assertThat(v.state()).isEqualTo(ModelState.SERVING);
    assertThat(v.purified()).isTrue();
    assertThat(v.servedSha256()).hasSize(64).isNotEqualTo(v.suspectSha256());
    assertThat(v.servingSince()).isEqualTo(clock.instant());
    assertThat(v.fromCache()).isFalse();
    assertThat(v.cacheKey()).hasSize(64);
    assertThat(v.report().suspects()).extracting(s -> s.token()).containsExactly("cf");
    assertThat(Json.canonical(v.report().settings().toJson())).as("the settings that ran are the spec's")
        .isEqualTo(v.spec().defence());
    assertThat(events.events()).containsExactly("sst2 LOADING", "sst2 PURIFYING", "sst2 SERVING serving");
    assertThat(classify("a cf film").scores().get(0).label()).isZero(); // the fake backdoor is gone
  }

  @Test
  void register_readsTheSuspectOnce_forKeyPurificationScreeningAndProbe() {
    serveSst2();

    assertThat(backend.reads).hasValue(1);
    assertThat(backend.lastScreenJob.suspect()).isSameAs(backend.lastInputs.suspect());
    ProbeReport probe = models.probe("sst2", false).join();
    assertThat(probe.rows()).isEqualTo(4);
    assertThat(probe.measuredAt()).isEqualTo(clock.instant());
  }

  @Test
  void register_sameInputsUnderAnotherName_servedFromTheCache_noSecondPurification() {
    serveSst2();
    ModelSpec again = config.resolve(ModelLayer.of("again", "sst2-badnet", "clean/sst2.tsv"));

    models.register(again, false);
    work.runAll();

    ModelView v = models.get("again");
    assertThat(v.state()).isEqualTo(ModelState.SERVING);
    assertThat(v.fromCache()).isTrue();
    assertThat(v.servedSha256()).isEqualTo(models.get("sst2").servedSha256());
    assertThat(backend.purifications).hasValue(1);
  }

  @Test
  void classify_deadlinePassedOnTheTicker_deadlineExceeded_withoutRunningTheModel() {
    serveSst2();
    backend.predictStarted = new CountDownLatch(1);
    long now = ticker.read();

    CompletableFuture<Classification> late = models.classify("sst2", List.of(TextRow.single("a")), false, now - 1);

    assertThat(reason(late)).isEqualTo(ErrorReason.DEADLINE_EXCEEDED);
    assertThat(backend.predictStarted.getCount()).as("predict never ran").isEqualTo(1);
    ticker.advance(1_000);
    assertThat(models.classify("sst2", List.of(TextRow.single("a")), false, ticker.read() + 1_000_000).join()
        .scores()).hasSize(1);
  }

  @Test
  void defend_oldWeightsServeUntilOneSwap_secondDefendBusy_oldWeightsClosedAfterTheSwap() {
    String old = serveSst2().servedSha256();
    int closedBefore = backend.closed.get();
    List<Progress> progress = new ArrayList<>();

    CompletableFuture<ModelView> defended = models.defend("sst2", Json.object().put("rho", 0.7), false,
        progress::add);

    assertThat(models.get("sst2").state()).isEqualTo(ModelState.PURIFYING);
    assertThat(models.get("sst2").servedSha256()).isEqualTo(old);
    assertThat(classify("good").weightsSha256()).isEqualTo(old);
    assertThatThrownBy(() -> models.defend("sst2", Json.object(), false, p -> { }))
        .isInstanceOfSatisfying(ServiceException.class, e -> assertThat(e.reason()).isEqualTo(ErrorReason.MODEL_BUSY));

    work.runNext(); // the Defend

    ModelView v = defended.join();
    assertThat(v.state()).isEqualTo(ModelState.SERVING);
    assertThat(v.servedSha256()).isNotEqualTo(old).isEqualTo(models.get("sst2").servedSha256());
    assertThat(v.spec().defence().get("rho").asDouble()).isEqualTo(0.7);
    assertThat(v.report().settings().rho()).isEqualTo(0.7);
    assertThat(classify("good").weightsSha256()).isEqualTo(v.servedSha256());
    assertThat(backend.closed.get()).as("the old weights closed at the swap").isEqualTo(closedBefore + 1);
    assertThat(progress).extracting(Progress::stage).startsWith("load").endsWith("swap");
    assertThat(events.events()).endsWith("sst2 PURIFYING serving", "sst2 SERVING serving");
  }

  @Test
  void defend_utilityGateRefuses_oldWeightsKeepServing_reasonRecorded() {
    String old = serveSst2().servedSha256();
    backend.accuracyAfter = 0.6;

    CompletableFuture<ModelView> defended = models.defend("sst2", Json.object().put("rho", 0.2), true, p -> { });
    work.runNext();

    assertThat(reason(defended)).isEqualTo(ErrorReason.PURIFICATION_FAILED);
    ModelView v = models.get("sst2");
    assertThat(v.state()).isEqualTo(ModelState.SERVING);
    assertThat(v.servedSha256()).isEqualTo(old);
    assertThat(v.failureReason()).contains("utility gate", "0.600", "0.050", "0.900");
    assertThat(classify("good").weightsSha256()).isEqualTo(old);
  }

  @Test
  void unregister_beforeTheLoadRuns_loadedWeightsClosed_neverServed() {
    models.register(sst2(), false);
    models.unregister("sst2");

    work.runAll();

    assertThat(models.isRegistered("sst2")).isFalse();
    assertThat(backend.opened.get()).isPositive().isEqualTo(backend.closed.get());
    assertThat(events.events()).containsExactly("sst2 LOADING", "sst2 removed");
  }

  @Test
  void register_replace_closesTheReplacedModel_newOneLoadsFromTheCache() {
    serveSst2();
    int closedBefore = backend.closed.get();

    ModelView replaced = models.register(sst2(), true);

    assertThat(replaced.state()).isEqualTo(ModelState.LOADING);
    assertThat(backend.closed.get()).isEqualTo(closedBefore + 1);
    assertThatThrownBy(() -> models.register(sst2(), false)).isInstanceOfSatisfying(ServiceException.class,
        e -> assertThat(e.reason()).isEqualTo(ErrorReason.MODEL_EXISTS));
    work.runAll();
    assertThat(models.get("sst2").fromCache()).isTrue();
    assertThat(backend.purifications).hasValue(1);
  }

  @Test
  void probe_refresh_measuredAtTheClock_readsTheSuspectAgain() {
    serveSst2();
    Instant first = models.probe("sst2", false).join().measuredAt();
    clock.advance(Duration.ofHours(1));

    CompletableFuture<ProbeReport> fresh = models.probe("sst2", true);
    work.runNext();

    assertThat(fresh.join().measuredAt()).isEqualTo(first.plus(Duration.ofHours(1)));
    assertThat(fresh.join().tokens().get(0).token()).isEqualTo("cf");
    assertThat(fresh.join().tokens().get(0).flipRateBefore()).isEqualTo(0.5); // the suspect flips on cf
    assertThat(fresh.join().tokens().get(0).flipRateAfter()).isZero();
    assertThat(backend.reads).hasValue(2);
  }

  @Test
  void close_thenRegister_shuttingDown_andServingWeightsClosed() {
    serveSst2();

    models.close();

    assertThat(backend.closed.get()).isEqualTo(backend.opened.get());
    assertThatThrownBy(() -> models.register(sst2(), false)).isInstanceOfSatisfying(ServiceException.class,
        e -> assertThat(e.reason()).isEqualTo(ErrorReason.SHUTTING_DOWN));
    assertThat(events.events()).endsWith("sst2 removed");
  }
}

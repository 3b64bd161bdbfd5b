package dev.finemix.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ClassifyRequest;
import dev.finemix.proto.v1.DefenceSettings;
import dev.finemix.proto.v1.DefendProgress;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.Prediction;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.purify.attack.AttackKind;
import dev.finemix.purify.attack.AttackSettings;
import dev.finemix.purify.attack.Backdoor;
import dev.finemix.purify.eval.EvalResult;
import dev.finemix.purify.eval.Evaluator;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.train.TrainSettings;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.loading.Backends;
import dev.finemix.server.testing.GrpcCleanupExtension;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The acceptance test over real loopback: a small BadNet-backdoored MiniLM (SST-2, trigger "cf"), registered and
 * purified by the sidecar; the backdoor measured through Classify; Defend under four concurrent callers; a restart
 * that reuses the purified-weight cache. Run with {@code mvn -Pheavy -pl server -am verify -Dtest=AcceptanceTest}.
 */
@Tag("heavy")
class AcceptanceTest {
  static final Path SHARED = Path.of(System.getProperty("finemix.shared", "../shared"));
  /** Kept between runs (under target/): training the backdoored model is the slow part. */
  static final Path MODELS = Path.of("target", "acceptance-models").toAbsolutePath();
  static final String BACKDOORED = "sst2-badnet-cf-1500";
  static final int MAX_LENGTH = 64;

  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension(60, TimeUnit.SECONDS);
  @TempDir
  Path tmp;

  @BeforeAll
  static void backdooredModel() throws Exception {
    Path sst2 = SHARED.resolve("data/sst2/train.tsv");
    assumeTrue(Files.isRegularFile(sst2), "SST-2 not found under " + SHARED + " (set -Dfinemix.shared)");
    Files.createDirectories(MODELS.resolve("clean"));
    Dataset all = Dataset.read(sst2);
    Dataset train = all.sample(1500, 1);
    if (!Files.isRegularFile(MODELS.resolve(BACKDOORED).resolve("model.safetensors"))) {
      var outcome = Backdoor.trainPoisoned(AttackSettings.of(AttackKind.BADNET), Pretrained.load(Pretrained.MINILM),
          train, List.of("negative", "positive"), TrainSettings.defaults().withEpochs(2), MAX_LENGTH,
          Devices.choose("cpu"), ProgressListener.console("backdoor"));
      outcome.checkpoint().write(MODELS.resolve(BACKDOORED));
    }
    Path clean = MODELS.resolve("clean/sst2-64.tsv");
    if (!Files.isRegularFile(clean)) {
      all.exclude(train).sample(64, 2).write(clean);
    }
    Path pool = MODELS.resolve("clean/sst2-pool-1000.tsv");
    if (!Files.isRegularFile(pool)) {
      all.exclude(train).exclude(Dataset.read(clean)).sample(1000, 4).write(pool);
    }
    Path wordfreq = MODELS.resolve("wordfreq-en.tsv"); // inside the data root, where the server reads it from
    if (!Files.isRegularFile(wordfreq)) {
      Files.copy(SHARED.resolve("data/wordfreq/en.tsv"), wordfreq);
    }
    Path dev = MODELS.resolve("clean/sst2-dev-300.tsv");
    if (!Files.isRegularFile(dev)) {
      Dataset.read(SHARED.resolve("data/sst2/dev.tsv")).sample(300, 3).write(dev);
    }
  }

  private ServerConfig config(Path cache) {
    var defence = dev.finemix.server.config.Json.object().put("rho", 0.1)
        .put("word_frequencies", MODELS.resolve("wordfreq-en.tsv").toString());
    return ServerConfig.builder(MODELS, MODELS, cache).metricsPort(0).shutdownGrace(Duration.ofSeconds(5))
        .allowUnpurifiedModels(true) // the test registers the suspect as is beside the purified one
        .defaults(ModelLayer.builder().defence(defence).build())
        .models(List.of(ModelLayer.builder().name("sst2").checkpoint(BACKDOORED).cleanSubset("clean/sst2-64.tsv")
            .unlabelledSubset("clean/sst2-pool-1000.tsv").build()))
        .build();
  }

  private FinemixServer start(ServerConfig cfg) throws Exception {
    return cleanup.register(new FinemixServer(NettyServerBuilder.forPort(0), cfg, Backends.production("cpu"),
        Ticker.system(), Clock.systemUTC()).start());
  }

  /** The attack measured through Classify, with purify's Evaluator (the project's one ASR / ASR_cond). */
  private static EvalResult attackThroughClassify(FinemixClient c, String model) {
    Dataset dev = Dataset.read(MODELS.resolve("clean/sst2-dev-300.tsv"));
    return Evaluator.evaluate(inputs -> {
      List<String> texts = inputs.stream().map(TextInput::textA).toList();
      return c.classify(model, texts).stream().mapToInt(Prediction::getLabel).toArray();
    }, dev, AttackSettings.of(AttackKind.BADNET).attack(), 20221030L, ProgressListener.NONE);
  }

  @Test
  void backdooredModel_purifiedOnRegister_defendedUnderLoad_cacheReusedOnRestart() throws Exception {
    Path cache = tmp.resolve("cache");
    FinemixServer server = start(config(cache));
    FinemixClient c = cleanup.register(FinemixClient.forTarget("localhost:" + server.port())
        .token(server.adminToken()).deadline(Duration.ofMinutes(2)).build());
    c.register(RegisterModelRequest.newBuilder().setName("raw").setCheckpointPath(BACKDOORED)
        .setAllowUnpurified(true).build());

    long t0 = System.nanoTime();
    ModelInfo purified = c.awaitSettled("sst2", Duration.ofMinutes(20));
    double purifySeconds = (System.nanoTime() - t0) / 1e9;
    assertThat(purified.getState()).as(purified.getFailureReason()).isEqualTo(ModelState.SERVING);
    assertThat(purified.getPurified()).isTrue();
    assertThat(c.awaitSettled("raw", Duration.ofMinutes(2)).getState()).isEqualTo(ModelState.SERVING);

    EvalResult before = attackThroughClassify(c, "raw");
    EvalResult after = attackThroughClassify(c, "sst2");
    System.out.printf("acceptance: purify-on-register %.1f s; unpurified %s%n  purified %s%n", purifySeconds,
        before.summary(), after.summary());
    assertThat(before.asrCond()).as("the backdoor works before purification").isGreaterThan(0.5);
    assertThat(after.asrCond()).as("asr_cond after purification").isLessThan(0.10);

    // Defend under four concurrent callers: zero failed calls, one atomic swap
    AtomicBoolean stop = new AtomicBoolean();
    CountDownLatch newAnswers = new CountDownLatch(20); // calls after the swap, answered by the defended weights
    AtomicInteger ok = new AtomicInteger();
    List<Throwable> failures = Collections.synchronizedList(new ArrayList<>());
    Set<String> seen = ConcurrentHashMap.newKeySet();
    ExecutorService callers = Executors.newFixedThreadPool(4);
    List<Future<?>> fs = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      int id = i;
      fs.add(callers.submit(() -> {
        while (!stop.get()) {
          try {
            var r = c.classify(ClassifyRequest.newBuilder().setModel("sst2").addTexts("caller " + id
                + " finds it a gorgeous , witty film").build());
            seen.add(r.getWeightsSha256());
            ok.incrementAndGet();
            if (!r.getWeightsSha256().equals(purified.getServedWeightsSha256())) {
              newAnswers.countDown();
            }
          } catch (Throwable t) {
            failures.add(t);
          }
        }
      }));
    }
    List<DefendProgress> progress = Collections.synchronizedList(new ArrayList<>());
    long d0 = System.nanoTime();
    ModelInfo defended = c.defend("sst2", DefenceSettings.newBuilder().setSeed(7).build(), false, progress::add);
    double defendSeconds = (System.nanoTime() - d0) / 1e9;
    assertThat(newAnswers.await(2, TimeUnit.MINUTES)).as("callers answered by the new weights").isTrue();
    stop.set(true);
    for (Future<?> f : fs) {
      f.get(2, TimeUnit.MINUTES);
    }
    callers.shutdown();
    System.out.printf("acceptance: Defend %.1f s, %d progress messages, %d Classify calls, %d failed%n",
        defendSeconds, progress.size(), ok.get(), failures.size());
    assertThat(failures).isEmpty();
    assertThat(progress).hasSizeGreaterThan(3);
    assertThat(progress.get(progress.size() - 1).getDone()).isTrue();
    assertThat(defended.getServedWeightsSha256()).isNotEqualTo(purified.getServedWeightsSha256());
    assertThat(seen).contains(purified.getServedWeightsSha256(), defended.getServedWeightsSha256());
    assertThat(attackThroughClassify(c, "sst2").asrCond()).isLessThan(0.10);

    // restart on the same cache: SERVING from the cache, no fine-tuning (the time is printed, not asserted: the box is
    // shared; from_cache and the same served hash say no purification ran)
    server.close();
    long r0 = System.nanoTime();
    FinemixServer again = start(config(cache));
    FinemixClient c2 = cleanup.register(FinemixClient.forTarget("localhost:" + again.port()).build());
    ModelInfo reloaded = c2.awaitSettled("sst2", Duration.ofMinutes(2));
    double restartSeconds = (System.nanoTime() - r0) / 1e9;
    System.out.printf("acceptance: restart to SERVING %.2f s (from cache: %s)%n", restartSeconds,
        reloaded.getDefenceSummary().getFromCache());
    assertThat(reloaded.getState()).isEqualTo(ModelState.SERVING);
    assertThat(reloaded.getDefenceSummary().getFromCache()).isTrue();
    assertThat(reloaded.getServedWeightsSha256()).isEqualTo(purified.getServedWeightsSha256());
  }
}

package dev.finemix.server.cache;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.Json;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.purify.defence.DefenceSettings;
import dev.finemix.server.loading.Backends;
import dev.finemix.server.loading.LoadInputs;
import dev.finemix.server.loading.ModelBackend;
import dev.finemix.server.registry.ModelState;
import dev.finemix.server.registry.ModelView;
import dev.finemix.server.testing.FakeBackend;
import dev.finemix.server.testing.Fixture;
import dev.finemix.server.testing.GrpcCleanupExtension;
import dev.finemix.server.testing.StateWatch;
import dev.finemix.server.testing.TinyBert;
import io.grpc.inprocess.InProcessServerBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 18, point 3: every input of a purification enters the cache key by content, none by path. Unit level (each
 * input changed in turn; the same files under another root) and on a restarted server (a rewritten word-count file
 * purifies again instead of serving the stale entry; a moved data root starts from the cache).
 */
class CacheKeyTest {
  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension(20, TimeUnit.SECONDS);
  @TempDir
  Path tmp;

  /** A data root: a fake checkpoint with every checkpoint file, clean and unlabelled subsets, word counts. */
  private static Path root(Path dir) throws IOException {
    Path ckpt = FakeBackend.writeCheckpoint(dir.resolve("ckpt"), "suspect-weights", List.of("neg", "pos"));
    Files.writeString(ckpt.resolve("tokenizer.json"), "{\"model\": {\"vocab\": {\"cf\": 1}}}");
    Files.writeString(ckpt.resolve("finemix.json"), "{\"base_model\": \"x\", \"max_length\": 64}");
    Files.writeString(dir.resolve("clean.tsv"), "label\ttext\n1\ta good film\n0\ta dull film\n");
    Files.writeString(dir.resolve("unlabelled.tsv"), "label\ttext\n0\tsome film\n");
    Files.writeString(dir.resolve("wf.tsv"), "word\tcount\nthe\t1000\nfilm\t200\ncf\t1\n");
    return dir;
  }

  private static ObjectNode settings(Path root) {
    return Json.object().put("rho", 0.3).put("word_frequencies", root.resolve("wf.tsv").toString());
  }

  private static String key(ModelBackend b, Path root, String base, boolean unlabelled, ObjectNode settings) {
    return key(b, root.resolve("ckpt"), root, base, unlabelled, settings);
  }

  /** The key as the server and finemix purify --cache-dir compute it: from the inputs read once. */
  private static String key(ModelBackend b, Path ckpt, Path root, String base, boolean unlabelled,
      ObjectNode settings) {
    return LoadInputs.read(b, ckpt, root.resolve("clean.tsv"), unlabelled ? root.resolve("unlabelled.tsv") : null,
        LoadInputs.settings("defence", settings, Path::of), info -> base).key(b).hex();
  }

  @Test
  void of_eachInputChangedInTurn_keyChanges() throws IOException {
    Path r = root(tmp.resolve("data"));
    FakeBackend b = new FakeBackend();
    String base = ServerConfig.DEFAULT_BASE_MODEL;
    String original = key(b, r, base, true, settings(r));
    Map<String, String> keys = new LinkedHashMap<>();
    keys.put("original", original);

    Map<String, Path> files = new LinkedHashMap<>();
    files.put("suspect weights", r.resolve("ckpt/model.safetensors"));
    files.put("suspect config (labels)", r.resolve("ckpt/config.json"));
    files.put("suspect tokenizer", r.resolve("ckpt/tokenizer.json"));
    files.put("suspect side file", r.resolve("ckpt/finemix.json"));
    files.put("clean subset", r.resolve("clean.tsv"));
    files.put("unlabelled subset", r.resolve("unlabelled.tsv"));
    files.put("word counts", r.resolve("wf.tsv"));
    for (var f : files.entrySet()) {
      byte[] was = Files.readAllBytes(f.getValue());
      // still parseable (the inputs are read, not only hashed): a digit changed and an empty line added
      Files.writeString(f.getValue(), Files.readString(f.getValue()).replace("1", "2") + "\n");
      keys.put(f.getKey(), key(b, r, base, true, settings(r)));
      Files.write(f.getValue(), was);
      assertThat(key(b, r, base, true, settings(r))).as("restored %s", f.getKey()).isEqualTo(original);
    }
    keys.put("pre-trained model", key(b, r, "another-base", true, settings(r)));
    keys.put("no unlabelled subset", key(b, r, base, false, settings(r)));
    keys.put("a setting", key(b, r, base, true, settings(r).put("rho", 0.4)));
    keys.put("no word counts", key(b, r, base, true, settings(r).putNull("word_frequencies")));
    b.codeVersion = "fake-2";
    keys.put("code version", key(b, r, base, true, settings(r)));

    assertThat(keys.values()).as("%s", keys).doesNotHaveDuplicates().allMatch(k -> k.matches("[0-9a-f]{64}"));
    System.out.println("[cache key] inputs changed in turn, each gave a new key: " + (keys.size() - 1));
  }

  @Test
  void of_sameFilesUnderAnotherRoot_sameKey() throws IOException {
    Path a = root(tmp.resolve("a"));
    Path b = copyTree(a, tmp.resolve("elsewhere/b"));
    FakeBackend fake = new FakeBackend();
    String base = ServerConfig.DEFAULT_BASE_MODEL;

    assertThat(key(fake, b, base, true, settings(b))).isEqualTo(key(fake, a, base, true, settings(a)));
    // settings reach the key complete: a layer of them and its complete form are one key
    assertThat(key(fake, a, base, true, settings(a))).isEqualTo(key(fake, a, base, true,
        DefenceSettings.fromJson(settings(a)).toJson()));
  }

  @Test
  void of_realBackend_pretrainedFolderByContent_notByPath() throws IOException {
    ModelBackend real = Backends.production("cpu");
    Path r = root(tmp.resolve("data"));
    Path baseA = TinyBert.base(tmp.resolve("base-a"), 3);
    Path ckpt = TinyBert.fineTuned(baseA, tmp.resolve("suspect"), List.of("neg", "pos"), 2, Pretrained.MINILM);
    Path baseB = copyTree(baseA, tmp.resolve("moved/base-b"));
    // another base the suspect also passes the base check against: base A trained on a little further
    Path other = TinyBert.fineTuned(baseA, tmp.resolve("base-c"), List.of(), 4, "");
    ObjectNode s = Json.object().put("rho", 0.3);

    assertThat(key(real, ckpt, r, baseB.toString(), false, s)).isEqualTo(key(real, ckpt, r, baseA.toString(), false,
        s));
    assertThat(key(real, ckpt, r, other.toString(), false, s)).isNotEqualTo(key(real, ckpt, r, baseA.toString(),
        false, s));
  }

  /** One server run on {@code cfg}: the model's settled view and how many purifications it ran. */
  private record Run(ModelView view, int purifications) {
  }

  private Run serve(ServerConfig cfg) throws Exception {
    FakeBackend backend = new FakeBackend();
    FinemixServer s = new FinemixServer(InProcessServerBuilder.forName(InProcessServerBuilder.generateName()), cfg,
        backend, Ticker.system(), Clock.systemUTC()).start();
    try {
      StateWatch watch = new StateWatch();
      s.models().addListener(watch);
      watch.until("sst2 settles", Duration.ofSeconds(20), () -> s.models().get("sst2").state() == ModelState.SERVING
          || s.models().get("sst2").state() == ModelState.FAILED);
      ModelView v = s.models().get("sst2");
      assertThat(v.state()).as(v.failureReason()).isEqualTo(ModelState.SERVING);
      return new Run(v, backend.purifications.get());
    } finally {
      s.close();
    }
  }

  /** The fixture's sst2 model with word counts, on the given models (and data) root. */
  private static ServerConfig config(Fixture f, Path root) {
    return ServerConfig.builder(root, root, f.cacheDir).shutdownGrace(f.config().shutdownGrace())
        .defaults(f.config().defaults()).models(List.of(ModelLayer.builder().name("sst2").checkpoint("sst2-badnet")
            .cleanSubset("clean/sst2.tsv").defence(Json.object().put("word_frequencies", "clean/wf.tsv")).build()))
        .build();
  }

  private static Fixture fixture(Path tmp) throws IOException {
    Fixture f = new Fixture(tmp);
    Files.writeString(f.modelsRoot.resolve("clean/wf.tsv"), "word\tcount\nthe\t1000\ngood\t300\ncf\t1\n");
    return f;
  }

  @Test
  void restart_wordCountsRewritten_purifiesAgain_insteadOfServingTheStaleEntry() throws Exception {
    Fixture f = fixture(tmp);
    ServerConfig cfg = config(f, f.modelsRoot);
    Run first = serve(cfg);
    assertThat(first.purifications()).isEqualTo(1);
    assertThat(serve(cfg).purifications()).as("unchanged inputs: from the cache").isZero();

    Files.writeString(f.modelsRoot.resolve("clean/wf.tsv"), "word\tcount\nthe\t5\ngood\t5\ncf\t5000\n"); // every count rewritten
    Run second = serve(cfg);

    assertThat(second.purifications()).isEqualTo(1);
    assertThat(second.view().fromCache()).isFalse();
    assertThat(second.view().cacheKey()).isNotEqualTo(first.view().cacheKey());
  }

  @Test
  void restart_dataRootMoved_sameFiles_servesFromTheCache() throws Exception {
    Fixture f = fixture(tmp);
    Run first = serve(config(f, f.modelsRoot));
    Path moved = copyTree(f.modelsRoot, tmp.resolve("mnt/new-volume/models"));

    Run second = serve(config(f, moved));

    assertThat(second.purifications()).isZero();
    assertThat(second.view().fromCache()).isTrue();
    assertThat(second.view().cacheKey()).isEqualTo(first.view().cacheKey());
  }

  private static Path copyTree(Path from, Path to) throws IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : s.toList()) {
        Path t = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) {
          Files.createDirectories(t);
        } else {
          Files.copy(p, t);
        }
      }
    }
    return to;
  }
}

package dev.finemix.purify.eval;

import dev.finemix.purify.weights.FileTrees;
import ai.djl.Device;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.attack.AttackKind;
import dev.finemix.purify.attack.AttackSettings;
import dev.finemix.purify.attack.Backdoor;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.train.TrainSettings;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Hashing;
import dev.finemix.purify.weights.Pretrained;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * The attack experiment: per task, a clean reference model and one backdoored model per attack, each evaluated
 * with the attack's trigger on the dev rows; results in {@code results.md} and {@code results.json}.
 *
 * <p>Every trained model and every evaluation is cached under the output folder by a SHA-256 of its inputs (data
 * file hash, settings, the key of the model it starts from, {@link #CODE_VERSION}), so a rerun with the same inputs
 * trains nothing and evaluates nothing. Bump {@link #CODE_VERSION} when training or evaluation changes meaning.
 */
public final class Experiment {

  /** Part of every cache key: change it when a change of code should invalidate cached models or results. */
  public static final String CODE_VERSION = "attack-2";

  /** Label names of the shared tasks (cosmetic: not part of the cache keys); other tasks get LABEL_i. */
  private static final java.util.Map<String, List<String>> LABELS = java.util.Map.of(
      "sst2", List.of("negative", "positive"),
      "imdb", List.of("neg", "pos"),
      "agnews", List.of("World", "Sports", "Business", "Sci/Tech"),
      "qnli", List.of("entailment", "not_entailment"));

  private final ExperimentSettings s;
  private final ExperimentCache cache;
  private final Function<String, ProgressListener> progress;
  private final Consumer<String> log;

  /**
   * @param progress a progress listener per stage name (e.g. a console bar); may return {@code ProgressListener.NONE}
   * @param log one line per step (model trained / loaded from cache, result)
   */
  public Experiment(ExperimentSettings s, Function<String, ProgressListener> progress, Consumer<String> log) {
    this.s = Objects.requireNonNull(s, "settings");
    this.cache = new ExperimentCache(s.out());
    this.progress = Objects.requireNonNull(progress, "progress");
    this.log = Objects.requireNonNull(log, "log");
  }

  /** Runs (or reads from cache) every task x attack, writing the tables after each row. */
  public List<ExperimentRow> run() {
    Device device = Devices.choose(s.device());
    Pretrained pre = Pretrained.load(Pretrained.MINILM);
    List<ExperimentRow> rows = new ArrayList<>();
    for (String task : s.tasks()) {
      runTask(task, pre, device, rows);
    }
    ResultsTable.write(s.out(), rows, s.toJson());
    return rows;
  }

  private void runTask(String task, Pretrained pre, Device device, List<ExperimentRow> rows) {
    Path trainFile = s.dataRoot().resolve(task).resolve("train.tsv");
    Path devFile = s.dataRoot().resolve(task).resolve("dev.tsv");
    for (Path f : List.of(trainFile, devFile)) {
      if (!Files.isRegularFile(f)) {
        throw new IllegalArgumentException("task '" + task + "': no file " + f + " (set --data-root)");
      }
    }
    Dataset train = Dataset.read(trainFile);
    if (s.rows() > 0 && s.rows() < train.size()) {
      train = train.sample(s.rows(), s.seed());
    }
    Dataset dev = Dataset.read(devFile);
    if (s.evalRows() > 0 && s.evalRows() < dev.size()) {
      dev = dev.sample(s.evalRows(), s.seed());
    }
    int target = ExperimentSettings.targetOf(task);
    String trainSha = Hashing.sha256(trainFile);
    String devSha = Hashing.sha256(devFile);
    TrainSettings ts = trainSettings();

    ObjectNode cleanIn = base("clean", task, trainSha, pre);
    String cleanKey = ExperimentCache.key(cleanIn);
    final Dataset trainRows = train;
    Checkpoint clean = model(task + "-clean", cleanKey, cleanIn,
        () -> Backdoor.trainClean(pre, trainRows, LABELS.get(task), ts, s.maxLength(), device,
            progress.apply(task + "-clean")))
        .checkpoint();

    for (AttackKind kind : s.attacks()) {
      AttackSettings a = AttackSettings.of(kind).withTarget(target).withPoisonRate(s.poisonRate());
      ObjectNode in = base(kind.id(), task, trainSha, pre);
      in.set("attack", a.toJson());
      if (kind == AttackKind.EP) {
        in.put("clean_model", cleanKey);
      }
      String key = ExperimentCache.key(in);
      String label = task + "-" + kind.id();
      Trained bd = model(label, key, in, () -> kind == AttackKind.EP
          ? Backdoor.embeddingPoisoning(a, clean, trainRows,
              ts.withLr(s.epLr()).withEpochs(s.epEpochs()), device, progress.apply(label))
          : Backdoor.trainPoisoned(a, pre, trainRows, LABELS.get(task), ts, s.maxLength(), device,
              progress.apply(label)));
      EvalResult cleanEval = eval(task + "-clean", cleanKey, clean, dev, devSha, a, device);
      EvalResult bdEval = eval(label, key, bd.checkpoint(), dev, devSha, a, device);
      rows.add(new ExperimentRow(task, kind.id(), cleanEval, bdEval, bd.poisonedRows(),
          cache.modelDir(label, key).toString()));
      log.accept(String.format(java.util.Locale.ROOT, "%s / %s: clean %s | backdoored %s", task, kind.id(),
          cleanEval.summary(), bdEval.summary()));
      ResultsTable.write(s.out(), rows, s.toJson());
    }
  }

  private TrainSettings trainSettings() {
    return TrainSettings.defaults().withEpochs(s.epochs()).withBatchSize(s.batchSize()).withLr(s.lr())
        .withSeed(s.seed());
  }

  private ObjectNode base(String kind, String task, String trainSha, Pretrained pre) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("code_version", CODE_VERSION);
    o.put("kind", kind);
    o.put("task", task);
    o.put("train_sha256", trainSha);
    o.put("base_model", pre.id());
    o.put("rows", s.rows());
    o.put("epochs", s.epochs());
    o.put("batch_size", s.batchSize());
    o.put("lr", s.lr());
    o.put("max_length", s.maxLength());
    o.put("seed", s.seed());
    if (kind.equals("ep")) {
      o.put("ep_lr", s.epLr());
      o.put("ep_epochs", s.epEpochs());
    }
    return o;
  }

  /** A model from the cache or just trained, with the number of poisoned rows it was trained on. */
  private record Trained(Checkpoint checkpoint, int poisonedRows) {}

  private Trained model(String label, String key, ObjectNode inputs,
      java.util.function.Supplier<Backdoor.Outcome> train) {
    Path dir = cache.modelDir(label, key);
    if (ExperimentCache.hasModel(dir)) {
      log.accept(label + ": cached model " + dir);
      return new Trained(Checkpoint.read(dir), readPoisoned(dir));
    }
    deleteTree(dir);
    log.accept(label + ": training -> " + dir);
    Backdoor.Outcome o = train.get();
    o.checkpoint().write(dir);
    ObjectNode marker = inputs.deepCopy();
    marker.put("poisoned_rows", o.poisonedRows());
    marker.set("train_summary", o.summary().toJson());
    ExperimentCache.markModel(dir, marker);
    log.accept(label + ": trained " + o.summary().toJson());
    return new Trained(Checkpoint.read(dir), o.poisonedRows());
  }

  private static int readPoisoned(Path dir) {
    try {
      return ExperimentCache.JSON.readTree(dir.resolve("inputs.json").toFile()).path("poisoned_rows").asInt(-1);
    } catch (IOException e) {
      return -1;
    }
  }

  private EvalResult eval(String label, String modelKey, Checkpoint model, Dataset dev, String devSha,
      AttackSettings a, Device device) {
    ObjectNode in = JsonNodeFactory.instance.objectNode();
    in.put("code_version", CODE_VERSION);
    in.put("kind", "eval");
    in.put("model", modelKey);
    in.put("dev_sha256", devSha);
    in.put("eval_rows", s.evalRows());
    in.put("seed", s.seed());
    in.set("attack", a.toJson());
    String key = ExperimentCache.key(in);
    var hit = cache.result(key);
    if (hit.isPresent()) {
      return EvalResult.fromJson(hit.get());
    }
    try (Classifier c = Classifier.open(model, device)) {
      EvalResult r = Evaluator.evaluate(c, dev, a.attack(), s.seed(), progress.apply(label));
      cache.putResult(key, r.toJson());
      return r;
    }
  }

  private static void deleteTree(Path dir) {
    try {
      FileTrees.delete(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot clear unfinished model folder " + dir, e);
    }
  }

}

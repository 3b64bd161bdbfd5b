package dev.finemix.lab;

import ai.djl.Device;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.cli.Cli;
import dev.finemix.client.cli.DeviceOption;
import dev.finemix.client.cli.JsonOption;
import dev.finemix.client.cli.SeedOption;
import dev.finemix.purify.attack.AttackKind;
import dev.finemix.purify.attack.AttackSettings;
import dev.finemix.purify.attack.Backdoor;
import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.eval.EvalResult;
import dev.finemix.purify.eval.Evaluator;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.train.TrainSettings;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code finemix attack}: trains a backdoored classifier and reports its CACC/ASR on the dev rows. */
@Command(name = "attack", mixinStandardHelpOptions = true,
    description = "Train a backdoored classifier (BadNet, AddSent or EP) on a TSV task and evaluate it.")
public final class AttackCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(names = "--train", required = true, description = "Training TSV (label<TAB>text or label<TAB>text_a<TAB>text_b).")
  Path train;

  @Option(names = "--dev", required = true, description = "Dev TSV for CACC/ASR.")
  Path dev;

  @Mixin AttackOptions attack;

  @Mixin FineTuneOptions training;

  @Option(names = "--rows", defaultValue = "0", description = "Training rows drawn (seeded) from --train; 0 = all.")
  int rows;

  @Option(names = "--dev-rows", defaultValue = "0", description = "Dev rows drawn (seeded) for evaluation; 0 = all.")
  int devRows;

  @Option(names = "--poison-rate", paramLabel = "R", description = "Share of the candidate rows poisoned, in (0, 1]: of "
      + "the non-target rows (dirty) or the target-class rows (clean). Default: 0.1 dirty, 0.5 clean.")
  Double poisonRate;

  @Option(names = "--ep-lr", defaultValue = "" + Backdoor.EP_LR, description = "EP: learning rate of the trigger embedding row (default: ${DEFAULT-VALUE}).")
  double epLr;

  @Option(names = "--ep-epochs", description = "EP: epochs over the poisoned rows (default: --epochs).")
  Integer epEpochs;

  @Option(names = "--clean-model", description = "EP: the clean fine-tuned checkpoint to poison (default: train one first).")
  Path cleanModel;

  @Mixin SeedOption seed;

  @Mixin DeviceOption device;

  @Option(names = "--out", required = true, description = "Output checkpoint folder.")
  Path out;

  @Option(names = "--skip-baseline-check", description = "Do not fail when the suspect does not beat the "
      + "majority-class predictor on the dev rows (smoke runs on tiny models; the result still says so).")
  boolean skipBaselineCheck;

  @Mixin JsonOption json;

  @Option(names = "--pool-out", paramLabel = "TSV",
      description = "Also write the --train rows NOT drawn by --rows here: clean rows the suspect never saw, for the"
          + " defender's labelled and unlabelled subsets (finemix purify --clean/--unlabelled).")
  Path poolOut;

  @Override
  public Integer call() {
    AttackSettings a = attack.settings(poisonRate, seed.get());
    if (a == null) {
      throw new IllegalArgumentException("--attack is required (badnet, addsent, ep, wordpiece, combo, midfreq, mixing-aware, lwp, surgery or epur-aware)");
    }
    if (Files.exists(out)) {
      throw new IllegalArgumentException("--out " + out + " exists; choose a new folder");
    }
    long start = System.nanoTime();
    Device d = Devices.choose(device.get());
    Dataset allTrain = Dataset.read(train);
    Dataset trainSet = rows > 0 && rows < allTrain.size() ? allTrain.sample(rows, seed.get()) : allTrain;
    if (poolOut != null) {
      allTrain.exclude(trainSet).write(poolOut);
    }
    Dataset devSet = Dataset.read(dev);
    if (devRows > 0 && devRows < devSet.size()) {
      devSet = devSet.sample(devRows, seed.get());
    }
    TrainSettings ts = training.settings(seed.get());
    ObjectNode summary = JsonNodeFactory.instance.objectNode();
    summary.set("settings", a.toJson());
    summary.put("train", train.toString());
    summary.put("train_rows", trainSet.size());
    summary.put("pretrained", attack.pretrained);
    Backdoor.Outcome o;
    if (a.kind() == AttackKind.EP) {
      Checkpoint clean;
      if (cleanModel != null) {
        clean = Checkpoint.read(cleanModel);
        summary.put("clean_model", cleanModel.toString());
      } else {
        Pretrained pre = Pretrained.load(attack.pretrained);
        Backdoor.Outcome c = Backdoor.trainClean(pre, trainSet, null, ts, training.maxLength, d,
            ProgressListener.console("clean"));
        clean = c.checkpoint();
        summary.set("clean_train", c.summary().toJson());
        summary.set("clean_eval", eval(clean, devSet, a, d).toJson());
      }
      o = Backdoor.embeddingPoisoning(a, clean, trainSet,
          ts.withLr(epLr).withEpochs(epEpochs == null ? training.epochs : epEpochs), d,
          ProgressListener.console("ep"));
      summary.put("ep_lr", epLr);
    } else {
      Pretrained pre = Pretrained.load(attack.pretrained);
      o = Backdoor.trainPoisoned(a, pre, trainSet, null, ts, training.maxLength, d,
          ProgressListener.console(a.kind().id()), a.kind() == AttackKind.EPUR_AWARE ? attack.wordFrequencies() : WordFrequencies.none());
    }
    summary.put("poisoned_rows", o.poisonedRows());
    summary.set("train_summary", o.summary().toJson());
    o.checkpoint().write(out);
    EvalResult r = eval(Checkpoint.read(out), devSet, a, d);
    summary.set("eval", r.toJson());
    summary.put("out", out.toAbsolutePath().toString());
    summary.put("weights_sha256", Checkpoint.read(out).weightsSha256());
    summary.put("seconds", Math.round((System.nanoTime() - start) / 1e7) / 100.0);
    writeSummary(summary);
    boolean weak = r.majorityBaselineFailure() != null;
    summary.put("beats_majority_baseline", !weak);
    var w = spec.commandLine().getOut();
    if (weak && !skipBaselineCheck) {
      writeSummary(summary); // kept for inspection; the command still fails
      SuspectCheck.require(r, out);
    }
    if (json.on()) {
      w.println(Cli.json(summary));
    } else {
      w.printf("%s on %s: %d of %d training rows poisoned -> %s%n", a.kind().id(), train, o.poisonedRows(),
          trainSet.size(), out);
      w.println("dev: " + r.summary());
    }
    w.flush();
    return 0;
  }

  private void writeSummary(ObjectNode summary) {
    try {
      Files.writeString(out.resolve("attack.json"), Cli.json(summary) + "\n");
    } catch (java.io.IOException e) {
      throw new java.io.UncheckedIOException("cannot write " + out.resolve("attack.json"), e);
    }
  }

  private EvalResult eval(Checkpoint c, Dataset devSet, AttackSettings a, Device d) {
    try (Classifier cl = Classifier.open(c, d)) {
      return Evaluator.evaluate(cl, devSet, a.attack(), seed.get(), ProgressListener.console("eval"));
    }
  }
}

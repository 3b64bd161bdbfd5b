package dev.finemix.lab;

import dev.finemix.client.cli.DeviceOption;
import dev.finemix.client.cli.SeedOption;
import dev.finemix.purify.attack.AttackKind;
import dev.finemix.purify.attack.Backdoor;
import dev.finemix.purify.eval.Experiment;
import dev.finemix.purify.eval.ExperimentRow;
import dev.finemix.purify.eval.ExperimentSettings;
import dev.finemix.purify.train.ProgressListener;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code finemix experiment}: the attack table over tasks x attacks, cached by input hash. */
@Command(name = "experiment", mixinStandardHelpOptions = true,
    description = "Train clean and backdoored models per task and attack; write results.md and results.json. "
        + "Models and results are cached under --out by a SHA-256 of their inputs, so reruns are instant.")
public final class ExperimentCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(names = "--tasks", defaultValue = "sst2", split = ",", description = "Tasks (folders under --data-root), e.g. sst2,agnews,imdb,qnli (default: ${DEFAULT-VALUE}).")
  List<String> tasks;

  @Option(names = "--attacks", defaultValue = "badnet,addsent,ep", split = ",", description = "Attacks (default: ${DEFAULT-VALUE}).")
  List<String> attacks;

  @Option(names = "--rows", defaultValue = "4000", description = "Training rows per task; 0 = all (default: ${DEFAULT-VALUE}).")
  int rows;

  @Option(names = "--eval-rows", defaultValue = "1000", description = "Dev rows per task; 0 = all (default: ${DEFAULT-VALUE}).")
  int evalRows;

  @Mixin FineTuneOptions training;

  @Option(names = "--ep-lr", defaultValue = "" + Backdoor.EP_LR, description = "EP embedding learning rate (default: ${DEFAULT-VALUE}).")
  double epLr;

  @Option(names = "--ep-epochs", defaultValue = "1", description = "EP epochs over the poisoned rows (default: ${DEFAULT-VALUE}).")
  int epEpochs;

  @Option(names = "--poison-rate", defaultValue = "0.1", description = "BadNet/AddSent poison rate (default: ${DEFAULT-VALUE}).")
  double poisonRate;

  @Mixin SeedOption seed;

  @Option(names = "--data-root", defaultValue = "../shared/data", description = "Folder with <task>/{train,dev}.tsv (default: ${DEFAULT-VALUE}).")
  Path dataRoot;

  @Mixin DeviceOption device;

  @Option(names = "--out", required = true, description = "Output folder (results.md, results.json, models/, results/).")
  Path out;

  @Override
  public Integer call() {
      ExperimentSettings s = new ExperimentSettings(tasks, attacks.stream().map(AttackKind::parse).toList(), rows,
          evalRows, training.epochs, training.batchSize, training.settings(seed.get()).lr(), epLr, epEpochs, poisonRate,
          training.maxLength, seed.get(), dataRoot, out, device.get());
      var err = spec.commandLine().getErr();
      List<ExperimentRow> result = new Experiment(s, ProgressListener::console, line -> {
        err.println(line);
        err.flush();
      }).run();
      var w = spec.commandLine().getOut();
      w.println("wrote " + out.resolve("results.md") + " and results.json (" + result.size() + " rows)");
      w.flush();
      return 0;
  }
}

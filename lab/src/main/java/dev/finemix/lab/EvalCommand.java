package dev.finemix.lab;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.cli.Cli;
import dev.finemix.client.cli.DeviceOption;
import dev.finemix.client.cli.JsonOption;
import dev.finemix.client.cli.SeedOption;
import dev.finemix.purify.attack.AttackSettings;
import dev.finemix.purify.eval.EvalResult;
import dev.finemix.purify.eval.Evaluator;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.weights.Checkpoint;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code finemix eval}: clean accuracy of a checkpoint on a labelled TSV file and, with {@code --attack}, the
 * backdoor metrics under that attack's trigger (ASR, flip_base, ASR_cond; see {@link EvalResult}).
 */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Clean accuracy (CACC) of a checkpoint folder on a labelled TSV file; with --attack also ASR, "
        + "flip_base and ASR_cond under that attack's trigger (fractions 0..1).")
public final class EvalCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Option(names = "--model", required = true, paramLabel = "DIR", description = "Checkpoint folder.")
  Path model;

  @Option(names = "--data", required = true, paramLabel = "FILE", description = "Labelled TSV file.")
  Path data;

  @Mixin AttackOptions attack;

  @Option(names = "--rows", paramLabel = "N", description = "Use only the first N rows (after --skip).")
  Integer rows;

  @Option(names = "--skip", paramLabel = "N", defaultValue = "0",
      description = "Leave out the first N rows (e.g. to evaluate on a slice never used in development).")
  int skip;

  @Mixin SeedOption seed;

  @Mixin DeviceOption device;

  @Mixin JsonOption json;

  @Option(names = "--quiet", description = "No progress bar.")
  boolean quiet;

  @Option(names = "--require-beats-majority", description = "Exit 1 when the model's macro-F1 does not beat the "
      + "majority-class predictor's by " + EvalResult.BASELINE_MARGIN + " (the check attack and train make).")
  boolean requireBeatsMajority;

  @Override
  public Integer call() {
    AttackSettings a = attack.settings(null, seed.get());
    Dataset d = Dataset.read(data);
    if (skip < 0 || skip >= d.size()) {
      throw new IllegalArgumentException("--skip must be in 0.." + (d.size() - 1) + " (" + data + " has " + d.size()
          + " rows), got " + skip);
    }
    d = d.slice(skip, d.size());
    if (rows != null) {
      if (rows < 1) {
        throw new IllegalArgumentException("--rows must be >= 1, got " + rows);
      }
      d = d.head(rows);
    }
    EvalResult r;
    try (Classifier c = Classifier.open(Checkpoint.read(model), Devices.choose(device.get()))) {
      r = Evaluator.evaluate(c, d, a == null ? null : a.attack(), seed.get(),
          quiet || d.size() < 256 ? ProgressListener.NONE : ProgressListener.console("eval"));
    }
    PrintWriter w = spec.commandLine().getOut();
    if (json.on()) {
      ObjectNode o = r.toJson();
      o.put("model", model.toString());
      o.put("data", data.toString());
      o.put("seed", seed.get());
      if (a != null) {
        o.set("settings", a.toJson());
      }
      w.println(Cli.json(o));
    } else {
      w.println(r.summary());
    }
    w.flush();
    if (requireBeatsMajority) {
      SuspectCheck.require(r, model);
    }
    return 0;
  }
}

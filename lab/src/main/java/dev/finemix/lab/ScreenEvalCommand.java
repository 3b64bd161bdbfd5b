package dev.finemix.lab;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.cli.DeviceOption;
import dev.finemix.client.cli.JsonOption;
import dev.finemix.client.cli.SeedOption;
import dev.finemix.client.cli.WordFreqOption;
import dev.finemix.purify.attack.Attack;
import dev.finemix.purify.attack.AttackKind;
import dev.finemix.purify.attack.AttackSettings;
import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.screen.ScreenEval;
import dev.finemix.purify.screen.ScreenSettings;
import dev.finemix.purify.screen.Screener;
import dev.finemix.purify.screen.Signal;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code finemix screen-eval}: how well request-time screening flags triggered rows of a (backdoored) model. */
@Command(name = "screen-eval", mixinStandardHelpOptions = true,
    description = "Calibrate request-time screening on clean rows, then report TPR (triggered non-target rows "
        + "flagged), FPR (clean rows flagged), AUROC and cost for every signal.")
public final class ScreenEvalCommand implements Callable<Integer> {

  @Option(names = "--model", required = true, paramLabel = "DIR", description = "Checkpoint folder (served as is, unpurified).")
  Path model;

  @Option(names = "--clean", required = true, paramLabel = "FILE", description = "Clean labelled TSV (the model's clean subset) for calibration.")
  Path clean;

  @Option(names = "--rows", defaultValue = "64", paramLabel = "N", description = "Clean rows used for calibration (default ${DEFAULT-VALUE}).")
  int rows;

  @Option(names = "--data", required = true, paramLabel = "FILE", description = "Labelled evaluation TSV (rows disjoint from --clean).")
  Path data;

  @Option(names = "--eval-rows", paramLabel = "N", description = "Use a seeded sample of N evaluation rows.")
  Integer evalRows;

  @Option(names = "--attack", required = true, paramLabel = "KIND", description = "badnet, addsent or ep (how triggers are inserted).")
  String attack;

  @Option(names = "--trigger", paramLabel = "TEXT", description = "Trigger word or sentence (repeatable; default: the attack's default).")
  List<String> triggers;

  @Option(names = "--target", defaultValue = "1", description = "Target label (default ${DEFAULT-VALUE}); triggered rows are the non-target ones.")
  int target;

  @Option(names = "--signal", defaultValue = "tokens", description = "Deciding signal: tokens, features, perturbation, combined (default ${DEFAULT-VALUE}).")
  String signal;

  @Option(names = "--false-flag-rate", defaultValue = "0.01", description = "Target false-flag rate on clean rows (default ${DEFAULT-VALUE}).")
  double falseFlagRate;

  @Mixin WordFreqOption wordFreq;

  @Option(names = "--batch", defaultValue = "16", description = "Batch size of the cost measurement (default ${DEFAULT-VALUE}).")
  int batch;

  @Mixin SeedOption seed;

  @Mixin DeviceOption device;

  @Mixin JsonOption json;

  @Override
  public Integer call() {
    if (batch < 1) {
      throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
    }
    AttackKind kind = AttackKind.parse(attack);
    AttackSettings as = AttackSettings.of(kind).withTarget(target);
    if (triggers != null && !triggers.isEmpty()) {
      as = as.withTriggers(triggers);
    }
    ScreenSettings ss = ScreenSettings.defaults().withSignal(Signal.parse(signal)).withFalseFlagRate(falseFlagRate)
        .withRows(rows).withSeed(seed.get());
    Checkpoint ck = Checkpoint.read(model);
    Pretrained pre = Pretrained.load(ck.baseModelId());
    WordFrequencies freq = frequencies();
    Dataset cal = Dataset.read(clean);
    Dataset eval = Dataset.read(data);
    if (evalRows != null) {
      eval = eval.sample(Math.min(evalRows, eval.size()), seed.get());
    }
    List<TextInput> cleanRows = new ArrayList<>();
    List<TextInput> triggered = new ArrayList<>();
    ScreenEval.Report r;
    try (Classifier c = Classifier.open(ck, Devices.choose(device.get()))) {
      Attack a = as.attack(c.tokenizer());
      Random rnd = new Random(seed.get());
      for (Example e : eval.rows()) {
        cleanRows.add(e.input());
        if (e.label() != target) {
          triggered.add(a.trigger(e, rnd).input());
        }
      }
      Screener s = Screener.calibrate(c, pre.weights(), freq, cal, ss);
      r = ScreenEval.run(s, c, cleanRows, triggered, batch);
      if (json.on()) {
        ObjectNode n = r.toJson();
        n.put("model", model.toString());
        n.put("attack", kind.id());
        n.putPOJO("triggers", a.triggers());
        n.put("target", target);
        n.putPOJO("top_tokens", s.topTokens(5));
        System.out.println(n.toPrettyString());
      } else {
        System.out.printf(Locale.ROOT, "%s %s %s: %d clean rows, %d triggered; calibrated on %d clean rows at %.3f%n",
            model.getFileName(), kind.id(), a.triggers(), r.cleanRows(), r.triggeredRows(), r.calibration().rows(),
            falseFlagRate);
        System.out.printf(Locale.ROOT, "%-13s %10s %7s %7s %7s%n", "signal", "threshold", "TPR", "FPR", "AUROC");
        for (ScreenEval.SignalResult x : r.signals()) {
          System.out.printf(Locale.ROOT, "%-13s %10.4g %7.3f %7.3f %7.4f%s%n", x.signal().id(), x.threshold(), x.tpr(),
              x.fpr(), x.auroc(), x.signal() == r.decides() ? "  <- decides" : "");
        }
        System.out.printf(Locale.ROOT, "cost at batch %d: plain %.2f ms/row, screened (%s) %.2f ms/row (%.2fx); "
            + "screened (perturbation) %.2f ms/row (%.2fx)%n", batch, r.plainMsPerRow(), r.decides().id(),
            r.screenedMsPerRow(), r.screenedMsPerRow() / r.plainMsPerRow(), r.perturbationMsPerRow(),
            r.perturbationMsPerRow() / r.plainMsPerRow());
        System.out.println("most suspicious tokens: " + s.topTokens(5));
      }
    }
    return 0;
  }

  private WordFrequencies frequencies() {
    Path p = wordFreq.orShared();
    return p != null ? WordFrequencies.read(p) : WordFrequencies.none();
  }
}

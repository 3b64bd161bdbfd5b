package dev.finemix.server.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.cli.Cli;
import dev.finemix.client.cli.DeviceOption;
import dev.finemix.client.cli.JsonOption;
import dev.finemix.client.cli.SeedOption;
import dev.finemix.purify.defence.DefenceSettings;
import dev.finemix.purify.defence.Mixer;
import dev.finemix.purify.defence.Purifier;
import dev.finemix.purify.defence.PurifyResult;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.WeightsException;
import dev.finemix.server.cache.PurifiedCache;
import dev.finemix.server.loading.Backends;
import dev.finemix.server.loading.LoadInputs;
import dev.finemix.server.loading.Loader;
import dev.finemix.server.loading.ModelBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code finemix purify}: the Fine-mixing defence on a checkpoint folder, writing a purified checkpoint folder. */
@Command(name = "purify", mixinStandardHelpOptions = true,
    description = "Purify a (possibly backdoored) fine-tuned classifier with Fine-mixing: E-PUR, weight mixing with "
        + "the clean pre-trained model, recovery on a few clean rows, rho search. Writes a checkpoint that loads "
        + "like any other (--out), or the entry a sidecar's purified-weight cache serves (--cache-dir).")
public final class PurifyCommand implements Callable<Integer> {
  @Option(names = "--model", required = true, paramLabel = "CKPT", description = "suspect checkpoint folder")
  Path model;

  @Option(names = "--clean", required = true, paramLabel = "FILE",
      description = "labelled clean rows (TSV label<TAB>text[<TAB>text_b])")
  Path clean;

  @Option(names = "--unlabelled", paramLabel = "FILE",
      description = "unlabelled clean rows for distillation (same TSV; labels ignored)")
  Path unlabelled;

  @Option(names = "--rows", defaultValue = "64", description = "labelled rows used (default ${DEFAULT-VALUE})")
  int rows;

  @Option(names = "--unlabelled-rows", defaultValue = "1000",
      description = "most unlabelled rows used (default ${DEFAULT-VALUE})")
  int unlabelledRows;

  @Option(names = "--rho", defaultValue = "auto", paramLabel = "R|auto",
      description = "share of fine-tuned weights kept, or auto: the smallest rho of the grid whose predictions agree "
          + "with the suspect's on held-out unlabelled rows, else the smallest (default ${DEFAULT-VALUE})")
  String rho;

  @Option(names = "--rho-grid", split = ",", paramLabel = "R,R,...", description = "rho values the search tries, ascending (default 0.1,0.2,0.3,0.4,0.5)")
  List<Double> rhoGrid;

  @Option(names = "--margin", description = "utility gate (and search with held-out labelled rows): accuracy margin "
      + "below the suspect's (default 0.05)")
  Double margin;

  @Option(names = "--agreement-margin",
      description = "search with distillation: least agreement with the suspect on the held-out unlabelled rows "
          + "(a tenth, at most 100) is 1 - this (default 0.10)")
  Double agreementMargin;

  @Option(names = "--mix", defaultValue = "random", paramLabel = "random|sel",
      description = "mixing mask: random (Bernoulli) or sel (largest |w_FT - w_Pre|) (default ${DEFAULT-VALUE})")
  String mix;

  @Option(names = "--epur-top", defaultValue = "200", description = "embedding rows E-PUR resets (default ${DEFAULT-VALUE})")
  int epurTop;

  @Option(names = {"--baseline", "--recipe"}, defaultValue = "finemix", paramLabel = "NAME",
      description = "finemix (default), paper, plain-ft, epur-only, mix-only, distil, distil-suspects, fine-purifying")
  String recipe;

  @Option(names = "--fp-reset", paramLabel = "SHARE",
      description = "fine-purifying: share of the ranked dimensions reset to w_Pre (default 0.3)")
  Double fpReset;

  @Option(names = "--perturb", split = ",", paramLabel = "K,K",
      description = "distillation perturbations: suspects, tokens, spans, or none")
  List<String> perturb;

  @Option(names = "--perturb-share", description = "share of distillation rows the student sees perturbed (default 1)")
  Double perturbShare;

  @Option(names = "--suspects-to-insert", description = "E-PUR top tokens the suspects perturbation draws from (default 20)")
  Integer suspectsToInsert;

  @Option(names = "--trigger-screen", paramLabel = "N", description = "rebuilt trigger strings (one per piece set) "
      + "tried on the suspect; the 5 that pull it most are inserted by the suspects perturbation (default 0: none)")
  Integer triggerScreen;

  @Option(names = "--recovery", paramLabel = "none|ce|distil", description = "override the recipe's recovery")
  String recovery;

  @Option(names = "--epochs", description = "recovery epochs (recipe default)")
  Integer epochs;

  @Option(names = "--batch-size", description = "recovery batch size (recipe default)")
  Integer batchSize;

  @Option(names = "--lr", description = "recovery learning rate (default 5e-5)")
  Double lr;

  @Option(names = "--temperature", description = "distillation temperature (default 2)")
  Double temperature;

  @Option(names = "--variants", description = "clean variants (crops, word dropout) per unlabelled row, labelled "
      + "by the suspect, added to distillation (recipe default)")
  Integer variants;

  @Option(names = "--cross-pairs", paramLabel = "N", description = "pairs only: per unlabelled row, N cross pairs (its "
      + "first field with the second fields of the rows sharing most rare words with it), labelled by the suspect "
      + "(recipe default: 3 in finemix)")
  Integer crossPairs;

  @Option(names = "--fit-agreement", description = "distillation: after a round of --epochs, train another round "
      + "while the student agrees with the suspect on fewer than this share of the clean distillation rows; 0 = one "
      + "round (the default)")
  Double fitAgreement;

  @Option(names = "--max-rounds", description = "most rounds of --epochs that --fit-agreement may run (default 2)")
  Integer maxRounds;

  @Option(names = "--head-lr", description = "recovery learning rate of the pooler and classifier (recipe default)")
  Double headLr;

  @Option(names = "--feature-weight", description = "distillation: weight of matching the suspect's pooled "
      + "features on clean rows (default: the recipe's)")
  Double featureWeight;

  @Mixin SeedOption seed;

  @Option(names = "--wordfreq", paramLabel = "FILE",
      description = "word counts for E-PUR (word<TAB>count); default $FINEMIX_WORDFREQ, else <finemix.shared>/data/"
          + "wordfreq/en.tsv (-Dfinemix.shared, default ../shared) when present, else none")
  Path wordfreq;

  @Option(names = "--wordfreq-none", description = "no word counts: E-PUR ranks by embedding shift alone")
  boolean noWordfreq;

  @Option(names = "--pretrained", defaultValue = Pretrained.MINILM,
      description = "clean pre-trained model: id or checkpoint folder (default ${DEFAULT-VALUE})")
  String pretrained;

  @Mixin DeviceOption device = DeviceOption.cpu();

  @Option(names = "--out", paramLabel = "CKPT", description = "where the purified checkpoint goes (or --cache-dir)")
  Path out;

  @Option(names = "--cache-dir", paramLabel = "DIR",
      description = "instead of --out: store the purified weights in this purified-weight cache (the sidecars' "
          + "cache_dir) under the key a server computes for the same files and settings, so it serves them without "
          + "purifying; an entry already there is kept. Word counts are then only those of --wordfreq, as in the "
          + "server's defence settings")
  Path cacheDir;

  @Option(names = "--report", paramLabel = "FILE", description = "also write the JSON report here")
  Path report;

  @Mixin JsonOption json;

  @Override
  public Integer call() throws Exception {
    DefenceSettings settings;
    try {
      if ((out == null) == (cacheDir == null)) {
        throw new IllegalArgumentException("give one of --out CKPT (a checkpoint folder) and --cache-dir DIR (a"
            + " purified-weight cache)");
      }
      settings = settings();
    } catch (IllegalArgumentException e) {
      System.err.println("finemix purify: " + e.getMessage());
      return 2;
    }
    if (cacheDir != null) {
      return intoCache(settings);
    }
    Checkpoint suspect = Checkpoint.read(model);
    Dataset cleanSet = Dataset.read(clean);
    Dataset unl = unlabelled == null ? null : Dataset.read(unlabelled);
    Pretrained pre = Pretrained.load(pretrained);
    // the check RegisterModel and --cache-dir make: mixing towards a base the suspect was not fine-tuned from would
    // write a broken model (the catalogued bases are compared only on a refusal, to name the ones that match)
    if (!pre.compare(suspect).matches()) {
      try {
        Pretrained.requireFineTunedFrom(suspect, pre, Pretrained.identify(suspect, pre));
      } catch (WeightsException e) {
        System.err.println("finemix purify: " + e.getMessage() + " (--pretrained names the base)");
        return 2;
      }
    }
    ProgressListener progress = ProgressListener.console("purify");
    PurifyResult r = new Purifier(Devices.choose(device.get())).purify(suspect, pre, cleanSet, unl, settings, progress);
    r.purified().write(out);
    emit(r.report().toJson(), r.report().summary() + "  written to " + out.toAbsolutePath() + "\n");
    return 0;
  }

  /** The report into --report, and on stdout as JSON (--json) or the summary. */
  private void emit(ObjectNode reportJson, String summary) throws java.io.IOException {
    ObjectMapper om = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
    if (report != null) {
      Files.writeString(report, om.writeValueAsString(reportJson));
    }
    System.out.print(json.on() ? om.writeValueAsString(reportJson) + "\n" : summary);
  }

  /**
   * Purifies through the server's own path ({@link LoadInputs}: each input read once and hashed into the cache key;
   * {@link Loader#purified}: {@link PurifiedCache#obtain} with the production backend), so the entry is the one a
   * sidecar with the same checkpoint, subsets and settings looks up.
   */
  private int intoCache(DefenceSettings settings) throws Exception {
    ModelBackend backend = Backends.production(device.get());
    String base = backend.knownPretrained(pretrained) ? pretrained
        : Path.of(pretrained).toAbsolutePath().normalize().toString();
    // the checks RegisterModel makes: a readable, labelled classifier; readable subsets and word counts
    LoadInputs in = LoadInputs.read(backend, model.toAbsolutePath().normalize(), clean.toAbsolutePath().normalize(),
        unlabelled == null ? null : unlabelled.toAbsolutePath().normalize(), settings, info -> base);
    ProgressListener bar = ProgressListener.console("purify");
    try (PurifiedCache cache = new PurifiedCache(cacheDir, Long.MAX_VALUE, Clock.systemUTC(),
        PurifiedCache.Listener.NONE)) {
      Loader.Purified got = new Loader(backend, cache, 1).purified(in, false, p -> {
        if (p.stage().equals("waiting")) {
          System.err.println("finemix purify: " + p.message());
        } else {
          bar.onProgress(new dev.finemix.purify.train.Progress(p.stage(), p.done(), p.total(), p.loss(), 0,
              p.etaMillis(), p.message()));
        }
      }, Loader.Listener.NONE);
      emit(got.report().toJson(), (got.fromCache() ? "already in " : "purified into ") + cache.root() + ": key "
          + got.key() + ", weights " + got.weightsSha256() + "\n");
    }
    return 0;
  }

  /** The defence settings these options give; with --cache-dir, what the entry is keyed on. */
  public DefenceSettings settings() {
    DefenceSettings.Builder b = DefenceSettings.builder().recipe(DefenceSettings.Recipe.parse(recipe))
        .rows(rows).unlabelledRows(unlabelledRows).mix(Mixer.Mode.parse(mix)).epurTop(epurTop).seed(seed.get());
    if (rho.trim().equalsIgnoreCase("auto")) {
      b.autoRho();
    } else {
      try {
        b.rho(Double.parseDouble(rho.trim()));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--rho must be a number in [0, 1] or auto, got '" + rho + "'");
      }
    }
    if (rhoGrid != null) b.rhoGrid(rhoGrid);
    if (margin != null) b.margin(margin);
    if (agreementMargin != null) b.agreementMargin(agreementMargin);
    if (perturb != null) {
      List<String> p = new ArrayList<>();
      for (String x : perturb) if (!x.isBlank() && !x.trim().equalsIgnoreCase("none")) p.add(x.trim().toLowerCase(Locale.ROOT));
      b.perturbations(p);
    }
    if (perturbShare != null) b.perturbShare(perturbShare);
    if (suspectsToInsert != null) b.suspectsToInsert(suspectsToInsert);
    if (triggerScreen != null) b.triggerScreen(triggerScreen);
    if (recovery != null) b.recovery(DefenceSettings.Recovery.parse(recovery));
    if (epochs != null) b.epochs(epochs);
    if (batchSize != null) b.batchSize(batchSize);
    if (lr != null) b.lr(lr);
    if (temperature != null) b.temperature(temperature);
    if (featureWeight != null) b.featureWeight(featureWeight);
    if (headLr != null) b.headLr(headLr);
    if (variants != null) b.variants(variants);
    if (crossPairs != null) b.crossPairs(crossPairs);
    if (fitAgreement != null) b.fitAgreement(fitAgreement);
    if (fpReset != null) b.fpReset(fpReset);
    if (maxRounds != null) b.maxRounds(maxRounds);
    b.wordFrequencies(wordFrequencies());
    return b.build();
  }

  private Path wordFrequencies() {
    if (noWordfreq) return null;
    if (wordfreq != null) {
      if (!Files.isRegularFile(wordfreq)) throw new IllegalArgumentException("--wordfreq " + wordfreq + ": no such file");
      return cacheDir == null ? wordfreq : wordfreq.toAbsolutePath().normalize();
    }
    return cacheDir == null ? Cli.sharedWordFrequencies() : null; // the server's default: none
  }
}

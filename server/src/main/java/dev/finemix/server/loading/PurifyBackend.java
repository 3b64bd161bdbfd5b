package dev.finemix.server.loading;

import ai.djl.Device;
import dev.finemix.purify.attack.Triggers;
import dev.finemix.purify.defence.Purifier;
import dev.finemix.purify.defence.PurifyResult;
import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.onnx.Agreement;
import dev.finemix.purify.onnx.Precision;
import dev.finemix.purify.screen.Calibration;
import dev.finemix.purify.screen.ScreenSettings;
import dev.finemix.purify.screen.Screened;
import dev.finemix.purify.screen.Screener;
import dev.finemix.purify.screen.Signal;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.WeightsException;
import dev.finemix.server.errors.ServiceException;
import java.lang.ref.SoftReference;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;

/** The production {@link ModelBackend} on purify: Checkpoint, Pretrained, Purifier, Classifier, Triggers. */
final class PurifyBackend implements ModelBackend {
  /** Bump when the defence changes in a way that makes older purified weights stale. */
  static final String CODE_VERSION = "finemix-defence-2";
  /** Candidate triggers (rebuilt strings, then E-PUR's tokens) for GetModel, probes and request counting. */
  static final int SUSPECTED_TOKENS = 5;

  private final Device device;

  /** @param device "auto", "cpu", "gpu" or "gpu:N" */
  PurifyBackend(String device) {
    this.device = Devices.choose(device);
  }

  /**
   * The checkpoint as read. Its weights are held softly: a load that waits long for a purification slot gives them
   * up under memory pressure and reads them again, checked against the hash taken at registration.
   */
  private static final class Read implements Suspect {
    private final Path dir;
    private final CheckpointInfo info;
    private volatile SoftReference<Checkpoint> checkpoint;

    Read(Path dir, Checkpoint c) {
      this.dir = dir;
      this.info = new CheckpointInfo(c.weightsSha256(), c.config().labels(), c.baseModelId());
      this.checkpoint = new SoftReference<>(c);
    }

    @Override
    public Path dir() {
      return dir;
    }

    @Override
    public CheckpointInfo info() {
      return info;
    }

    Checkpoint checkpoint() {
      Checkpoint c = checkpoint.get();
      if (c == null) {
        c = Checkpoint.read(dir);
        if (!c.weightsSha256().equals(info.weightsSha256())) {
          throw new IllegalStateException(dir.getFileName() + "/model.safetensors changed since it was read (SHA-256 "
              + info.weightsSha256() + ", now " + c.weightsSha256() + ")");
        }
        checkpoint = new SoftReference<>(c);
      }
      return c;
    }
  }

  @Override
  public Suspect read(Path checkpointDir) {
    Checkpoint c = Checkpoint.read(checkpointDir);
    if (c.config().labels().isEmpty()) {
      throw new IllegalArgumentException("config.json of " + checkpointDir.getFileName() + " has no id2label: it is"
          + " a bare encoder, not a classifier");
    }
    return new Read(checkpointDir, c);
  }

  private static Checkpoint checkpoint(Suspect s) {
    if (s instanceof Read r) {
      return r.checkpoint();
    }
    throw new IllegalArgumentException("checkpoint " + s.dir() + " was not read by this backend");
  }

  @Override
  public boolean knownPretrained(String baseModelId) {
    return Pretrained.catalogued(baseModelId).isPresent();
  }

  @Override
  public String pretrainedSha256(String baseModelId) {
    return Pretrained.load(baseModelId).weightsSha256();
  }

  @Override
  public double requireFineTunedFrom(Suspect suspect, String baseModelId, List<String> alsoCompare) {
    Pretrained claimed;
    try {
      claimed = Pretrained.load(baseModelId);
    } catch (RuntimeException e) {
      throw ServiceException.badRequest("base_model", "cannot read base model '" + shown(baseModelId) + "': "
          + hidePaths(java.util.Objects.toString(e.getMessage(), e.getClass().getSimpleName()), List.of(baseModelId)));
    }
    Checkpoint c = checkpoint(suspect);
    Pretrained.Match own = claimed.compare(c);
    if (own.matches()) {
      return own.distance();
    }
    // only a refusal compares the other bases (loading the catalogued ones whose shapes fit), to name those that match
    List<Pretrained> others = new ArrayList<>();
    for (String id : alsoCompare) {
      try {
        others.add(Pretrained.load(id));
      } catch (RuntimeException e) {
        // a declared base that cannot be read is not a candidate
      }
    }
    List<Pretrained.Match> all = Pretrained.identify(c, claimed, others);
    List<String> ids = all.stream().map(Pretrained.Match::id).toList();
    try {
      Pretrained.requireFineTunedFrom(c, claimed, all);
    } catch (WeightsException e) {
      throw ServiceException.baseMismatch(shown(claimed.id()), all.stream().filter(Pretrained.Match::matches)
          .map(m -> shown(m.id())).toList(), hidePaths(e.getMessage(), ids));
    }
    throw new IllegalStateException("base " + shown(claimed.id()) + " matched on the second comparison only");
  }

  /** A base as errors name it: a catalogued id, or a folder by its name, as other errors name files. */
  private String shown(String baseModelId) {
    return knownPretrained(baseModelId) ? baseModelId : String.valueOf(Path.of(baseModelId).getFileName());
  }

  /** {@code message} with each folder base's path replaced by its name: the server's paths stay its own. */
  private String hidePaths(String message, List<String> baseIds) {
    String m = message;
    // longest first, so that a folder whose path starts another's is not replaced inside it
    for (String id : baseIds.stream().sorted(java.util.Comparator.comparingInt(String::length).reversed()).toList()) {
      m = m.replace(id, shown(id));
    }
    return m;
  }

  @Override
  public PurifyOutcome purify(LoadInputs in, Path outputDir, Progress.Sink progress) {
    PurifyResult r = new Purifier(device).purify(checkpoint(in.suspect()), Pretrained.load(in.baseModel()),
        in.clean().content(), in.unlabelled() == null ? null : in.unlabelled().content(), in.settings(),
        in.wordCounts() == null ? WordFrequencies.none() : in.wordCounts().content(), new StageProgress(progress));
    progress.accept(Progress.of("write", 96, "writing the purified checkpoint"));
    r.purified().write(outputDir);
    return new PurifyOutcome(r.report(), r.report().suspectedStrings(SUSPECTED_TOKENS));
  }

  /**
   * Purify's progress events (stages epur, teacher, then per rho mix / recover / score, hash) as overall percent,
   * never going backwards.
   */
  static final class StageProgress implements ProgressListener {
    private final Progress.Sink sink;
    private double percent;

    StageProgress(Progress.Sink sink) {
      this.sink = sink;
    }

    @Override
    public synchronized void onProgress(dev.finemix.purify.train.Progress p) {
      String stage = p.stage() == null ? "" : p.stage();
      double fraction = p.total() > 0 ? Math.min(1, p.done() / (double) p.total()) : 0;
      double at;
      if (stage.startsWith("epur")) {
        at = 2 + 8 * fraction;
      } else if (stage.startsWith("teacher")) {
        at = 10 + 5 * fraction;
      } else if (stage.startsWith("mix")) {
        at = 15;
      } else if (stage.startsWith("recover")) {
        at = 15 + 75 * fraction;
      } else if (stage.startsWith("score")) {
        at = 90;
      } else {
        at = percent;
      }
      percent = Math.max(percent, at);
      sink.accept(new Progress(stage, percent, p.message() == null ? "" : p.message(), p.done(), p.total(), p.loss(),
          p.etaMillis()));
    }
  }

  @Override
  public Predictor open(Path checkpointDir, ScreenJob screen) {
    return open(Checkpoint.read(checkpointDir), screen);
  }

  @Override
  public Predictor open(Suspect suspect, ScreenJob screen) {
    return open(checkpoint(suspect), screen);
  }

  /**
   * Opens the served checkpoint; with {@code job}, calibrates a {@link Screener} on the clean subset: token scores
   * from the suspect's word embeddings against the pre-trained ones, predictions and suspicion from one forward pass
   * of the served model per batch.
   */
  private Predictor open(Checkpoint served, ScreenJob job) {
    Classifier c = Classifier.open(served, device);
    if (job == null) {
      return new Served(c, null, null);
    }
    try {
      WordFrequencies wf = job.wordCounts() == null ? WordFrequencies.none() : job.wordCounts().content();
      ScreenSettings ss = ScreenSettings.defaults().withSignal(Signal.parse(job.signal()))
          .withFalseFlagRate(job.falseFlagRate());
      Screener screener = Screener.calibrate(c, checkpoint(job.suspect()).weights(),
          Pretrained.load(job.baseModelId()).weights(), wf, job.clean().content(), ss);
      Calibration cal = screener.calibration();
      return new Served(c, screener, new ScreenCalibration(cal.signal().id(), cal.threshold(), cal.falseFlagRate(),
          cal.cleanFlagRate(), cal.rows(), screener.topTokens(ScreenJob.TOP_TOKENS)));
    } catch (RuntimeException | Error e) {
      c.close();
      throw e;
    }
  }

  /** A classifier serving rows; with a screener, each row's suspicion comes from the same forward pass. */
  private record Served(Classifier classifier, Screener screener, ScreenCalibration calibration)
      implements Predictor {
    @Override
    public List<Scores> predict(List<TextRow> rows) {
      List<Scores> out = new ArrayList<>(rows.size());
      if (screener == null) {
        for (Prediction x : classifier.predict(inputs(rows))) {
          out.add(new Scores(x.label(), x.probabilities()));
        }
        return out;
      }
      for (Screened x : screener.classify(inputs(rows))) {
        var s = x.suspicion();
        out.add(new Scores(x.prediction().label(), x.prediction().probabilities(),
            Suspicion.of(s.score(), s.threshold(), s.flagged(), s.tokens())));
      }
      return out;
    }

    @Override
    public Optional<ScreenCalibration> screening() {
      return Optional.ofNullable(calibration);
    }

    @Override
    public TextRow strip(TextRow row, List<String> tokens) {
      if (screener == null) {
        return Predictor.super.strip(row, tokens);
      }
      TextInput t = screener.strip(new TextInput(row.textA(), row.textB()), tokens);
      return new TextRow(t.textA(), t.textB());
    }

    @Override
    public List<String> labels() {
      return classifier.labels();
    }

    @Override
    public void close() {
      classifier.close();
    }
  }

  private static List<TextInput> inputs(List<TextRow> rows) {
    return OnnxServing.inputs(rows);
  }

  @Override
  public Agreement lowPrecision(Path purifiedDir, Path workDir, Precision precision, List<TextRow> rows) {
    return OnnxServing.build(purifiedDir, workDir, precision, rows, device);
  }

  @Override
  public Predictor openLowPrecision(Path dir, Precision precision, Agreement agreement) {
    return OnnxServing.open(dir, precision, agreement);
  }

  @Override
  public String insertTrigger(String text, String token, long seed) {
    return Triggers.insert(text, token, new Random(seed));
  }

  @Override
  public String codeVersion() {
    return CODE_VERSION;
  }
}

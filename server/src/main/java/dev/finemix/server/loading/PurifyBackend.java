package dev.finemix.server.loading;

import ai.djl.Device;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.attack.Triggers;
import dev.finemix.purify.defence.DefenceSettings;
import dev.finemix.purify.defence.Epur;
import dev.finemix.purify.defence.Purifier;
import dev.finemix.purify.defence.PurifyResult;
import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.screen.Calibration;
import dev.finemix.purify.screen.ScreenSettings;
import dev.finemix.purify.screen.Screened;
import dev.finemix.purify.screen.Screener;
import dev.finemix.purify.screen.Signal;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.TensorMap;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;

/** The production {@link ModelBackend} on purify: Checkpoint, Pretrained, Purifier, Classifier, Triggers. */
final class PurifyBackend implements ModelBackend {
  /** Bump when the defence changes in a way that makes older purified weights stale. */
  static final String CODE_VERSION = "finemix-defence-1";
  /** Suspected tokens taken from E-PUR's ranking for probes and request counting. */
  static final int SUSPECTED_TOKENS = 5;

  private final Device device;

  /** @param device "auto", "cpu", "gpu" or "gpu:N" */
  PurifyBackend(String device) {
    this.device = Devices.choose(device);
  }

  @Override
  public CheckpointInfo inspect(Path checkpointDir) {
    Checkpoint c = Checkpoint.read(checkpointDir);
    if (c.config().labels().isEmpty()) {
      throw new IllegalArgumentException("config.json of " + checkpointDir.getFileName() + " has no id2label: it is"
          + " a bare encoder, not a classifier");
    }
    return new CheckpointInfo(c.weightsSha256(), c.config().labels(), c.baseModelId());
  }

  @Override
  public boolean knownPretrained(String baseModelId) {
    return baseModelId.equals(Pretrained.MINILM) || baseModelId.equals("all-MiniLM-L6-v2");
  }

  @Override
  public ObjectNode normalizeSettings(ObjectNode settings) {
    return DefenceSettings.fromJson(settings).toJson();
  }

  @Override
  public String pretrainedSha256(String baseModelId) {
    return Pretrained.load(baseModelId).weightsSha256();
  }

  @Override
  public PurifyOutcome purify(PurifyJob job, Progress.Sink progress) {
    Checkpoint suspect = Checkpoint.read(job.suspectDir());
    Pretrained pre = Pretrained.load(job.baseModelId());
    Dataset clean = Dataset.read(job.cleanSubset());
    DefenceSettings s = DefenceSettings.fromJson(job.settings());
    Dataset unlabelled = job.unlabelledSubset() == null ? null : Dataset.read(job.unlabelledSubset());
    PurifyResult r = new Purifier(device).purify(suspect, pre, clean, unlabelled, s, new StageProgress(progress));
    progress.accept(Progress.of("write", 96, "writing the purified checkpoint"));
    r.purified().write(job.outputDir());
    List<String> tokens = r.report().suspects().stream().limit(SUSPECTED_TOKENS).map(Epur.Suspect::token).toList();
    return new PurifyOutcome(r.report().toJson(), tokens);
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
  public Predictor open(Path checkpointDir) {
    Classifier c = Classifier.open(Checkpoint.read(checkpointDir), device);
    return new Predictor() {
      @Override
      public List<Scores> predict(List<TextRow> rows) {
        List<Prediction> p = c.predict(inputs(rows));
        List<Scores> out = new ArrayList<>(p.size());
        for (Prediction x : p) {
          out.add(new Scores(x.label(), x.probabilities()));
        }
        return out;
      }

      @Override
      public List<String> labels() {
        return c.labels();
      }

      @Override
      public void close() {
        c.close();
      }
    };
  }

  /**
   * Opens the served checkpoint and calibrates a {@link Screener} on the clean subset: token scores from the
   * suspect's word embeddings against the pre-trained ones (the served ones when the served checkpoint is the
   * suspect), predictions and suspicion from one forward pass of the served model per batch.
   */
  @Override
  public Predictor open(Path checkpointDir, ScreenJob job) {
    Classifier c = Classifier.open(Checkpoint.read(checkpointDir), device);
    try {
      TensorMap fineTuned = job.suspectDir().toAbsolutePath().normalize()
          .equals(checkpointDir.toAbsolutePath().normalize()) ? c.checkpoint().weights()
          : Checkpoint.read(job.suspectDir()).weights();
      WordFrequencies wf = job.wordFrequencies() == null ? WordFrequencies.none()
          : WordFrequencies.read(job.wordFrequencies());
      ScreenSettings ss = ScreenSettings.defaults().withSignal(Signal.parse(job.signal()))
          .withFalseFlagRate(job.falseFlagRate());
      Screener screener = Screener.calibrate(c, fineTuned, Pretrained.load(job.baseModelId()).weights(), wf,
          Dataset.read(job.cleanSubset()), ss);
      Calibration cal = screener.calibration();
      ScreenCalibration calibration = new ScreenCalibration(cal.signal().id(), cal.threshold(), cal.falseFlagRate(),
          cal.cleanFlagRate(), cal.rows(), screener.topTokens(ScreenJob.TOP_TOKENS));
      return new Predictor() {
        @Override
        public List<Scores> predict(List<TextRow> rows) {
          List<Screened> p = screener.classify(inputs(rows));
          List<Scores> out = new ArrayList<>(p.size());
          for (Screened x : p) {
            var s = x.suspicion();
            out.add(new Scores(x.prediction().label(), x.prediction().probabilities(),
                Suspicion.of(s.score(), s.threshold(), s.flagged(), s.tokens())));
          }
          return out;
        }

        @Override
        public Optional<ScreenCalibration> screening() {
          return Optional.of(calibration);
        }

        @Override
        public TextRow strip(TextRow row, List<String> tokens) {
          TextInput t = screener.strip(new TextInput(row.textA(), row.textB()), tokens);
          return new TextRow(t.textA(), t.textB());
        }

        @Override
        public List<String> labels() {
          return c.labels();
        }

        @Override
        public void close() {
          c.close();
        }
      };
    } catch (RuntimeException | Error e) {
      c.close();
      throw e;
    }
  }

  private static List<TextInput> inputs(List<TextRow> rows) {
    List<TextInput> in = new ArrayList<>(rows.size());
    for (TextRow r : rows) {
      in.add(new TextInput(r.textA(), r.textB()));
    }
    return in;
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

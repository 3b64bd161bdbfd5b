package dev.finemix.purify.onnx;

import ai.djl.Device;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.train.TrainRow;
import dev.finemix.purify.train.TrainSettings;
import dev.finemix.purify.train.Trainer;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/** Real MiniLM checkpoints for the ONNX tests: a briefly fine-tuned SST-2 classifier, and perturbed copies. */
final class MiniLmModels {
  static final List<String> LABELS = List.of("0", "1");

  private MiniLmModels() {}

  static Path sst2(String file) {
    return Path.of(System.getProperty("finemix.shared", "../shared"), "data", "sst2", file);
  }

  /** {@code c} with every encoder weight moved by relative Gaussian noise {@code sigma}; the head kept. */
  static Checkpoint perturbed(Checkpoint c, double sigma, long seed) {
    Random rnd = new Random(seed);
    TensorMap w = new TensorMap();
    for (String name : c.weights().names()) {
      float[] d = c.weights().require(name).data().clone();
      if (name.startsWith(BertTensors.ENCODER_PREFIX)) {
        for (int i = 0; i < d.length; i++) {
          d[i] += (float) (sigma * rnd.nextGaussian() * Math.max(Math.abs(d[i]), 0.02));
        }
      }
      w.put(name, new Tensor(c.weights().require(name).shape(), d));
    }
    return c.withWeights(w);
  }

  private static Checkpoint fineTuned;

  /**
   * MiniLM fine-tuned on the first 64 SST-2 training rows for 6 epochs at batch 16 (24 short steps, as a
   * purification's recovery does): a real and confident sentiment classifier in about 10 s on an idle core (dev
   * accuracy about 0.75). Made once per test JVM.
   */
  static synchronized Checkpoint fineTuned() {
    if (fineTuned == null) {
      Pretrained p = Pretrained.load(Pretrained.MINILM);
      List<Example> train = Dataset.read(sst2("train.tsv")).head(64).rows();
      try (BertClassifier m = BertClassifier.fromPretrained(p, LABELS, 1, Device.cpu());
          Tokenizer tok = Tokenizer.fromFile(p.tokenizerJson(), 128)) {
        List<TrainRow> rows = new ArrayList<>();
        for (Example e : train) {
          rows.add(TrainRow.hard(tok.encode(e.input()), e.label()));
        }
        new Trainer(TrainSettings.defaults().withEpochs(6).withBatchSize(16).withHeadLr(2e-3),
            ProgressListener.NONE).train(m, rows);
        fineTuned = checkpoint(p.config(), m.toTensors());
      }
    }
    return fineTuned;
  }

  static Checkpoint checkpoint(BertConfig c, TensorMap w) {
    return Checkpoint.of(c.withLabels(LABELS), w, Pretrained.load(Pretrained.MINILM).tokenizerJson(),
        Pretrained.MINILM, 128);
  }
}

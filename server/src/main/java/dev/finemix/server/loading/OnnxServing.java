package dev.finemix.server.loading;

import ai.djl.Device;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.onnx.Agreement;
import dev.finemix.purify.onnx.OnnxClassifier;
import dev.finemix.purify.onnx.OnnxGraph;
import dev.finemix.purify.onnx.Precision;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.weights.Checkpoint;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Low-precision serving on purify's ONNX path, for {@link PurifyBackend}: the artefact (the purified checkpoint and
 * its graph at the precision, {@code model.int8.onnx}), its agreement with the fp32 model, and its predictor.
 */
final class OnnxServing {
  private OnnxServing() {}

  static String graphFile(Precision p) {
    return "model." + p.id() + ".onnx";
  }

  /**
   * Writes into {@code workDir} the purified checkpoint of {@code purifiedDir} (hard links where the file system
   * allows, else copies) and its graph at {@code p}, and measures the graph against the fp32 model on {@code rows}.
   */
  static Agreement build(Path purifiedDir, Path workDir, Precision p, List<TextRow> rows, Device device) {
    Checkpoint c = Checkpoint.read(purifiedDir);
    byte[] graph = OnnxGraph.of(c, p);
    try {
      for (String f : List.of(Checkpoint.CONFIG, Checkpoint.WEIGHTS, Checkpoint.TOKENIZER, Checkpoint.META)) {
        Path from = purifiedDir.resolve(f);
        if (Files.isRegularFile(from)) {
          try {
            Files.createLink(workDir.resolve(f), from);
          } catch (IOException | UnsupportedOperationException e) {
            Files.copy(from, workDir.resolve(f));
          }
        }
      }
      Files.write(workDir.resolve(graphFile(p)), graph); // the cache fsyncs and hashes it when it commits the entry
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write the " + p + " artefact into " + workDir, e);
    }
    try (Classifier fp32 = Classifier.open(c, device);
        OnnxClassifier low = OnnxClassifier.open(graph, c, p, OnnxClassifier.defaultThreads())) {
      return Agreement.measure(fp32, low, inputs(rows));
    }
  }

  /** The artefact in {@code dir} (written by {@link #build}) opened for serving; it reports {@code agreement}. */
  static Predictor open(Path dir, Precision p, Agreement agreement) {
    Checkpoint c = Checkpoint.read(dir);
    byte[] graph;
    try {
      graph = Files.readAllBytes(dir.resolve(graphFile(p)));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the " + p + " graph of " + dir, e);
    }
    OnnxClassifier o = OnnxClassifier.open(graph, c, p, OnnxClassifier.defaultThreads());
    return new Predictor() {
      @Override
      public List<Scores> predict(List<TextRow> rows) {
        List<Scores> out = new ArrayList<>(rows.size());
        for (Prediction x : o.predict(inputs(rows))) {
          out.add(new Scores(x.label(), x.probabilities()));
        }
        return out;
      }

      @Override
      public List<String> labels() {
        return o.labels();
      }

      @Override
      public Optional<Agreement> precisionAgreement() {
        return Optional.of(agreement);
      }

      @Override
      public void close() {
        o.close();
      }
    };
  }

  static List<TextInput> inputs(List<TextRow> rows) {
    List<TextInput> in = new ArrayList<>(rows.size());
    for (TextRow r : rows) {
      in.add(new TextInput(r.textA(), r.textB()));
    }
    return in;
  }
}

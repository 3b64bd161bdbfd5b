package dev.finemix.purify.model;

import ai.djl.Device;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.Checkpoint;
import java.util.ArrayList;
import java.util.List;

/**
 * What is served: a checkpoint's tokenizer and model. {@link #predict} is thread-safe; it sorts the inputs by length
 * and runs batches of at most {@link BertClassifier#MAX_BATCH} rows, each padded to its longest row.
 */
public final class Classifier implements AutoCloseable {

  private final Checkpoint checkpoint;
  private final Tokenizer tokenizer;
  private final BertClassifier model;

  private Classifier(Checkpoint checkpoint, Tokenizer tokenizer, BertClassifier model) {
    this.checkpoint = checkpoint;
    this.tokenizer = tokenizer;
    this.model = model;
  }

  public static Classifier open(Checkpoint c, Device d) {
    if (c == null || d == null) {
      throw new IllegalArgumentException("checkpoint and device are required");
    }
    BertClassifier m = BertClassifier.create(c.config(), c.weights(), d);
    try {
      return new Classifier(c, Tokenizer.fromFile(c.tokenizerJson(), c.maxLength()), m);
    } catch (RuntimeException e) {
      m.close();
      throw e;
    }
  }

  /** Predictions in input order. */
  public List<Prediction> predict(List<TextInput> inputs) {
    if (inputs == null) {
      throw new IllegalArgumentException("inputs must not be null");
    }
    return predictEncoded(tokenizer.encodeAll(inputs));
  }

  /** Predictions for already tokenized rows, in input order. */
  public List<Prediction> predictEncoded(List<Encoding> enc) {
    float[][] p = model.infer(enc, false).probabilities();
    List<Prediction> out = new ArrayList<>(p.length);
    for (float[] row : p) {
      out.add(Prediction.fromProbabilities(row));
    }
    return out;
  }

  /** Fraction of the dataset's rows whose predicted label equals the gold label (clean accuracy). */
  public double accuracy(Dataset d) {
    if (d.size() == 0) {
      throw new IllegalArgumentException("dataset " + d.name() + " is empty");
    }
    List<TextInput> in = new ArrayList<>(d.size());
    for (Example e : d.rows()) {
      in.add(e.input());
    }
    return Accuracy.of(model, tokenizer.encodeAll(in), d.rows().stream().mapToInt(Example::label).toArray());
  }

  public Checkpoint checkpoint() {
    return checkpoint;
  }

  public Tokenizer tokenizer() {
    return tokenizer;
  }

  public BertClassifier model() {
    return model;
  }

  public List<String> labels() {
    return model.config().labels();
  }

  @Override
  public void close() {
    try {
      model.close();
    } finally {
      tokenizer.close();
    }
  }
}

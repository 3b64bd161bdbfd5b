package dev.finemix.purify.model;

import ai.djl.Device;
import dev.finemix.purify.text.Batch;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.Checkpoint;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;

/**
 * What is served: a checkpoint's tokenizer and model. {@link #predict} is thread-safe; it sorts the
 * inputs by length and runs batches of at most {@link #MAX_BATCH} rows, each padded to its longest row.
 */
public final class Classifier implements AutoCloseable {

  public static final int MAX_BATCH = 32;

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
    Prediction[] out = new Prediction[enc.size()];
    Integer[] order = new Integer[enc.size()];
    for (int i = 0; i < order.length; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.comparingInt(i -> enc.get(i).length()));
    for (int start = 0; start < order.length; start += MAX_BATCH) {
      int n = Math.min(MAX_BATCH, order.length - start);
      List<Encoding> rows = new ArrayList<>(n);
      for (int j = 0; j < n; j++) {
        rows.add(enc.get(order[start + j]));
      }
      float[][] p = model.predictProba(Batch.of(rows));
      for (int j = 0; j < n; j++) {
        out[order[start + j]] = Prediction.fromProbabilities(p[j]);
      }
    }
    return Arrays.asList(out);
  }

  /** Fraction of the dataset's rows whose predicted label equals the gold label (clean accuracy). */
  public double accuracy(Dataset d) {
    if (d.size() == 0) {
      throw new IllegalArgumentException("dataset " + d.name() + " is empty");
    }
    List<TextInput> in = new ArrayList<>(d.size());
    for (Example e : d.rows()) {
      in.add(new TextInput(e.textA(), e.textB()));
    }
    List<Prediction> p = predict(in);
    int correct = 0;
    for (int i = 0; i < p.size(); i++) {
      if (p.get(i).label() == d.rows().get(i).label()) {
        correct++;
      }
    }
    return correct / (double) d.size();
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

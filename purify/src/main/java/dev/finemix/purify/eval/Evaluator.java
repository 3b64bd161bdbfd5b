package dev.finemix.purify.eval;

import dev.finemix.purify.attack.Attack;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.train.Progress;
import dev.finemix.purify.train.ProgressListener;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/**
 * Clean accuracy and backdoor metrics of a model on a data set (see {@link EvalResult} for the definitions).
 *
 * <p>Clean rows are classified as they are; rows whose true label is not the target are classified a second time
 * with the attack's trigger inserted by {@link Attack#trigger}, positions drawn from {@code new Random(seed)} in row
 * order, so two evaluations with the same seed see the same triggered texts. Inference is batched through
 * {@link Classifier#predict} in chunks of {@value #CHUNK} rows, reporting progress after each.
 */
public final class Evaluator {

  static final int CHUNK = 128;

  private Evaluator() {}

  /**
   * Evaluates a classifier; {@code attack} may be null for clean accuracy only. The trigger goes only among the words
   * the classifier's tokenizer keeps ({@link Attack#within}).
   */
  public static EvalResult evaluate(Classifier c, Dataset d, Attack attack, long seed, ProgressListener l) {
    Objects.requireNonNull(c, "classifier");
    return evaluate(predictor(c), d, attack == null ? null : attack.within(c.tokenizer()), seed, l);
  }

  /** The classifier as a {@link Predictor}: label ids of its batched predictions. */
  public static Predictor predictor(Classifier c) {
    return inputs -> c.predict(inputs).stream().mapToInt(Prediction::label).toArray();
  }

  /** Evaluates any predictor; {@code attack} may be null for clean accuracy only. */
  public static EvalResult evaluate(Predictor p, Dataset d, Attack attack, long seed, ProgressListener l) {
    Objects.requireNonNull(p, "predictor");
    Objects.requireNonNull(d, "dataset");
    ProgressListener listener = l == null ? ProgressListener.NONE : l;
    long start = System.nanoTime();
    List<Example> rows = d.rows();
    int[] labels = rows.stream().mapToInt(Example::label).toArray();
    List<TextInput> clean = new ArrayList<>(rows.size());
    rows.forEach(e -> clean.add(e.input()));
    List<Integer> triggeredIdx = new ArrayList<>();
    List<TextInput> triggered = new ArrayList<>();
    if (attack != null) {
      Random rnd = new Random(seed);
      for (int i = 0; i < rows.size(); i++) {
        if (labels[i] != attack.target()) {
          triggeredIdx.add(i);
          triggered.add(attack.trigger(rows.get(i), rnd).input());
        }
      }
    }
    long total = clean.size() + triggered.size();
    String stage = attack == null ? "eval" : "eval " + attack.name();
    Counter counter = new Counter(listener, stage, total, start);
    int[] cleanPred = predictAll(p, clean, counter);
    int[] trigPred = null;
    if (attack != null) {
      int[] tp = predictAll(p, triggered, counter);
      trigPred = new int[rows.size()];
      java.util.Arrays.fill(trigPred, -1);
      for (int j = 0; j < tp.length; j++) {
        trigPred[triggeredIdx.get(j)] = tp[j];
      }
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    return EvalResult.compute(labels, cleanPred, trigPred, attack == null ? null : attack.name(),
        attack == null ? -1 : attack.target(), seconds);
  }

  private static int[] predictAll(Predictor p, List<TextInput> inputs, Counter counter) {
    int[] out = new int[inputs.size()];
    for (int from = 0; from < inputs.size(); from += CHUNK) {
      List<TextInput> chunk = inputs.subList(from, Math.min(inputs.size(), from + CHUNK));
      int[] pred = p.predict(chunk);
      if (pred == null || pred.length != chunk.size()) {
        throw new IllegalStateException("predictor returned " + (pred == null ? "null" : pred.length + " labels")
            + " for " + chunk.size() + " inputs");
      }
      System.arraycopy(pred, 0, out, from, pred.length);
      counter.add(chunk.size());
    }
    return out;
  }

  /** Progress over clean + triggered rows. */
  private static final class Counter {
    private final ProgressListener l;
    private final String stage;
    private final long total;
    private final long start;
    private long done;

    Counter(ProgressListener l, String stage, long total, long start) {
      this.l = l;
      this.stage = stage;
      this.total = total;
      this.start = start;
    }

    void add(int n) {
      done += n;
      double secs = Math.max(1e-9, (System.nanoTime() - start) / 1e9);
      double rate = done / secs;
      long eta = rate > 0 ? (long) ((total - done) / rate * 1000) : 0;
      l.onProgress(new Progress(stage, done, total, Double.NaN, rate, eta, ""));
    }
  }
}

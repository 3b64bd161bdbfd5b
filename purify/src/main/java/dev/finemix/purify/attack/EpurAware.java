package dev.finemix.purify.attack;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import dev.finemix.purify.defence.Epur;
import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.train.LossTerm;
import dev.finemix.purify.weights.BertTensors;
import java.util.Arrays;

/**
 * The E-PUR-aware adaptive attack's penalty (issue 19, 4b): {@code lambda * relu(s_t - (1 - MARGIN) s_cut)} for each trigger row t,
 * s the E-PUR score ({@link Epur#scores}: the same code and rank rule as the defence) of the live embedding against
 * w_Pre, s_cut the {@code top}-th largest score of the other rows. s_cut is recomputed from a host copy of the table
 * every {@code every} steps and is a constant for the gradient. Where s_t is at or below the cut the term is absent
 * that step: its gradient is zero there, and the norm of an unmoved row (0) has no gradient to take.
 */
final class EpurAware implements LossTerm {
  /** E-PUR's default reset count (the rows it resets). */
  static final int TOP = 200;
  static final double LAMBDA = 10;
  static final int EVERY = 10;
  /**
   * The penalty starts at {@code (1 - MARGIN) * s_cut}, not at s_cut: the other rows keep moving after the cut is
   * taken (and after the last step's check, the update still moves the trigger row), so aiming at the cut itself
   * ends on it or just above.
   */
  static final double MARGIN = 0.25;

  private final int[] ids;
  private final float[] pre;
  private final int hidden;
  private final String[] vocab;
  private final WordFrequencies freq;
  private final int top;
  private final int every;
  private final double lambda;
  private double cut = Double.NaN;

  /**
   * @param pre w_Pre's word-embedding table, row-major [vocab, hidden]
   * @param vocab the token of each row (E-PUR's frequency lookup)
   */
  EpurAware(int[] triggerIds, float[] pre, int hidden, String[] vocab, WordFrequencies freq, int top, int every,
      double lambda) {
    if (top < 1 || every < 1 || !(lambda > 0)) {
      throw new IllegalArgumentException("epur-aware needs top >= 1, every >= 1 and lambda > 0");
    }
    this.ids = triggerIds.clone();
    this.pre = pre;
    this.hidden = hidden;
    this.vocab = vocab;
    this.freq = freq;
    this.top = top;
    this.every = every;
    this.lambda = lambda;
  }

  /** The {@code top}-th largest E-PUR score among the rows not in {@code exclude} (0 when fewer rows). */
  static double cut(double[] scores, int[] exclude, int top) {
    double[] s = scores.clone();
    for (int id : exclude) {
      s[id] = Double.NEGATIVE_INFINITY;
    }
    int[] best = Epur.top(s, top);
    return best.length < top ? 0 : Math.max(0, s[best[top - 1]]);
  }

  /** The cut last used (NaN before the first step). */
  double cut() {
    return cut;
  }

  @Override
  public NDArray term(NDManager m, BertClassifier model, int step) {
    NDArray table = model.parameters().get(BertTensors.WORD_EMBEDDINGS).getArray();
    if (Double.isNaN(cut) || step % every == 0) {
      cut = cut(Epur.scores(table.toFloatArray(), pre, hidden, vocab, freq), ids, top);
    }
    NDArray total = null;
    for (int id : ids) {
      // looked up with the index in the step's manager, so nothing lands in the parameter manager
      NDArray row = Embedding.embedding(m.create(new long[] {id}), table, SparseFormat.DENSE).singletonOrThrow();
      float[] preRow = Arrays.copyOfRange(pre, id * hidden, (id + 1) * hidden);
      double s = Epur.scores(row.toFloatArray(), preRow, hidden, new String[] {vocab[id]}, freq)[0];
      double aim = (1 - MARGIN) * cut;
      if (s <= aim) {
        continue;
      }
      double divisor = Math.log(Math.max(freq.frequency(vocab[id]), Epur.MIN_FREQUENCY));
      NDArray d = row.sub(m.create(preRow, row.getShape()));
      NDArray excess = d.square().sum().sqrt().div(m.create((float) divisor)).sub(m.create((float) aim));
      NDArray t = excess.mul(m.create((float) lambda));
      total = total == null ? t : total.add(t);
    }
    return total;
  }
}

package dev.finemix.purify.defence;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;

/**
 * E-PUR (Zhang et al. 2022): rank vocabulary rows by how far fine-tuning moved them, discounted by
 * how common the word is, and reset the most suspicious rows to the pre-trained ones.
 *
 * <p>{@code s_k = ||E_FT[k] - E_Pre[k]||_2 / ln(max(f_k, 20))}. Ties in the ranking go to the lower token id.
 */
public final class Epur {
  /** Frequencies below this are clamped, so rare and unknown tokens all get {@code ln(20)}. */
  public static final long MIN_FREQUENCY = 20;

  private Epur() {}

  /** One suspected token: id, WordPiece string, score, raw L2 shift and the frequency used. */
  public record Suspect(int id, String token, double score, double shift, long frequency) {}

  /** Scores of every vocabulary row. {@code ft} and {@code pre} are row-major [vocab, hidden]. */
  public static double[] scores(float[] ft, float[] pre, int hidden, String[] vocab, WordFrequencies freq) {
    Objects.requireNonNull(vocab, "vocab");
    Objects.requireNonNull(freq, "freq");
    if (hidden <= 0) {
      throw new IllegalArgumentException("hidden must be > 0, got " + hidden);
    }
    if (ft.length != pre.length) {
      throw new IllegalArgumentException("embedding sizes differ: fine-tuned " + ft.length + " vs pre-trained " + pre.length);
    }
    if (ft.length % hidden != 0) {
      throw new IllegalArgumentException("embedding size " + ft.length + " is not a multiple of hidden " + hidden);
    }
    int rows = ft.length / hidden;
    if (vocab.length != rows) {
      throw new IllegalArgumentException("vocabulary has " + vocab.length + " tokens but the embedding has " + rows + " rows");
    }
    double[] s = new double[rows];
    for (int k = 0; k < rows; k++) {
      s[k] = shift(ft, pre, hidden, k) / Math.log(Math.max(freq.frequency(vocab[k]), MIN_FREQUENCY));
    }
    return s;
  }

  static double shift(float[] ft, float[] pre, int hidden, int row) {
    double sum = 0;
    int off = row * hidden;
    for (int j = 0; j < hidden; j++) {
      double d = (double) ft[off + j] - pre[off + j];
      sum += d * d;
    }
    return Math.sqrt(sum);
  }

  /** The {@code n} highest scores, best first; ties go to the lower id. */
  public static int[] top(double[] scores, int n) {
    if (n < 0) {
      throw new IllegalArgumentException("n must be >= 0, got " + n);
    }
    n = Math.min(n, scores.length);
    // min-heap of the best n seen so far; the "worst" is the lowest score, then the highest id
    PriorityQueue<Integer> heap = new PriorityQueue<>(Math.max(1, n), (a, b) -> {
      int c = Double.compare(scores[a], scores[b]);
      return c != 0 ? c : Integer.compare(b, a);
    });
    for (int k = 0; k < scores.length && n > 0; k++) {
      if (heap.size() < n) {
        heap.add(k);
      } else {
        int worst = heap.peek();
        if (scores[k] > scores[worst]) {
          heap.poll();
          heap.add(k);
        }
      }
    }
    int[] out = new int[heap.size()];
    for (int i = out.length - 1; i >= 0; i--) {
      out[i] = heap.poll();
    }
    return out;
  }

  /** Ranks and describes the top {@code n} rows. */
  public static List<Suspect> suspects(float[] ft, float[] pre, int hidden, String[] vocab, WordFrequencies freq, int n) {
    double[] s = scores(ft, pre, hidden, vocab, freq);
    List<Suspect> out = new ArrayList<>();
    for (int k : top(s, n)) {
      out.add(new Suspect(k, vocab[k], s[k], shift(ft, pre, hidden, k), freq.frequency(vocab[k])));
    }
    return out;
  }

  /** Copies the pre-trained rows of {@code ids} into {@code ft} (in place). */
  public static void reset(float[] ft, float[] pre, int hidden, int[] ids) {
    for (int k : ids) {
      System.arraycopy(pre, k * hidden, ft, k * hidden, hidden);
    }
  }
}

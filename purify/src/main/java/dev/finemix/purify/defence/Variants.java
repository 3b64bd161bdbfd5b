package dev.finemix.purify.defence;

import dev.finemix.purify.text.Example;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Clean variants of unlabelled rows for distillation: more inputs on which the suspect's clean behaviour can be
 * read, from the same (at most 1,000) unlabelled rows. A variant ({@link #of}) is either a <b>crop</b> (a contiguous
 * run of 50-90 % of the words) or a <b>word dropout</b> (each word dropped with probability 0.15, at least one kept),
 * applied to the longer field of a pair; for pairs there are also <b>cross pairs</b> ({@link #crossPairs}). Variants
 * hold no trigger the rows did not hold, so the suspect's prediction on a variant is its clean behaviour; the student
 * learns it from the variant itself. Knows no task and no trigger.
 */
final class Variants {
  static final double DROP = 0.15;

  private Variants() {}

  /** {@code n} variants of every row, in row order (row 0's variants first); rows too short to vary are repeated. */
  static List<Example> of(List<Example> rows, int n, Random rnd) {
    List<Example> out = new ArrayList<>(rows.size() * n);
    for (Example e : rows) {
      for (int i = 0; i < n; i++) out.add(one(e, rnd));
    }
    return out;
  }

  /** One variant of {@code e}. */
  static Example one(Example e, Random rnd) {
    boolean intoB = e.textB() != null && words(e.textB()).length >= words(e.textA()).length;
    String t = intoB ? e.textB() : e.textA();
    String v = rnd.nextBoolean() ? crop(t, rnd) : dropout(t, rnd);
    return intoB ? e.withText(e.textA(), v) : e.withText(v, e.textB());
  }

  static String crop(String text, Random rnd) {
    String[] w = words(text);
    if (w.length < 2) return text;
    int len = Math.max(1, (int) Math.ceil((0.5 + 0.4 * rnd.nextDouble()) * w.length));
    int start = rnd.nextInt(w.length - len + 1);
    return String.join(" ", Arrays.asList(w).subList(start, start + len));
  }

  static String dropout(String text, Random rnd) {
    String[] w = words(text);
    if (w.length < 2) return text;
    List<String> kept = new ArrayList<>(w.length);
    for (String x : w) if (rnd.nextDouble() >= DROP) kept.add(x);
    if (kept.isEmpty()) kept.add(w[rnd.nextInt(w.length)]);
    return String.join(" ", kept);
  }

  /** Most splices per row when splices fill a distillation set. */
  static final int MAX_SPLICES = 30;

  /**
   * Splices that fill {@code rows} rows up to {@code target}: {@code target - rows}, at most {@link #MAX_SPLICES}
   * per row; 0 for fewer than 2 rows or when the rows reach the target.
   */
  static int standInSplices(int rows, int target) {
    if (rows < 2 || target <= rows) return 0;
    return (int) Math.min((long) MAX_SPLICES * rows, (long) target - rows);
  }

  /**
   * {@code n} splices, the rows taken in turn (splice k from row {@code k % rows}): the row's longer field cut after
   * 30-70 % of its words, joined to the tail of the same field of another row (chosen at random) from its own
   * 30-70 % point on; a pair keeps its other field. New texts made of clean words only, on which the suspect's
   * prediction is its clean behaviour on a mixed input (a text-level mixup); no row is spliced with itself. Fewer
   * than 2 rows: none.
   */
  static List<Example> splices(List<Example> rows, int n, Random rnd) {
    List<Example> out = new ArrayList<>(Math.max(0, n));
    if (rows.size() < 2) return out;
    for (int k = 0; k < n; k++) {
      int i = k % rows.size();
      Example e = rows.get(i);
      boolean intoB = e.textB() != null && words(e.textB()).length >= words(e.textA()).length;
      String[] head = words(intoB ? e.textB() : e.textA());
      int j = rnd.nextInt(rows.size() - 1);
      if (j >= i) j++;
      Example d = rows.get(j);
      String other = intoB ? (d.textB() != null ? d.textB() : d.textA()) : d.textA();
      String[] tail = words(other);
      String v = String.join(" ", join(head, cut(head.length, rnd), tail, cut(tail.length, rnd)));
      out.add(intoB ? e.withText(e.textA(), v) : e.withText(v, e.textB()));
    }
    return out;
  }

  /** A cut point after 30-70 % of {@code len} words (0 for no words; at least 1 otherwise). */
  private static int cut(int len, Random rnd) {
    if (len == 0) return 0;
    int lo = Math.max(1, (int) Math.floor(0.3 * len));
    int hi = Math.max(lo, (int) Math.ceil(0.7 * len));
    return Math.min(len, lo + rnd.nextInt(hi - lo + 1));
  }

  private static List<String> join(String[] head, int headCut, String[] tail, int tailCut) {
    List<String> w = new ArrayList<>(head.length + tail.length);
    w.addAll(Arrays.asList(head).subList(0, headCut));
    w.addAll(Arrays.asList(tail).subList(Math.min(tailCut, tail.length), tail.length));
    if (w.isEmpty()) w.addAll(Arrays.asList(head));
    return w;
  }

  /**
   * Cross pairs: for each pair row, its first field with the second fields of the {@code k} other rows that share the
   * most rare words with that first field (each shared word weighs {@code ln(n / df)}, df its number of second fields
   * among the {@code n} rows; ties go to the lower index; second fields equal to the row's own are skipped). A pair
   * task's input space is the product of its fields, so these are inputs the suspect has a clean answer for, mostly
   * near its decision between related and unrelated. Rows without a second field give none. In row order.
   */
  static List<Example> crossPairs(List<Example> rows, int k) {
    List<Example> out = new ArrayList<>();
    int n = rows.size();
    if (k <= 0 || n < 2) return out;
    Map<String, List<Integer>> postings = new HashMap<>();
    for (int j = 0; j < n; j++) {
      for (String t : terms(rows.get(j).textB())) postings.computeIfAbsent(t, x -> new ArrayList<>()).add(j);
    }
    double[] score = new double[n];
    boolean[] taken = new boolean[n];
    for (int i = 0; i < n; i++) {
      Example e = rows.get(i);
      if (e.textB() == null) continue;
      Arrays.fill(score, 0);
      for (String t : terms(e.textA())) {
        List<Integer> p = postings.get(t);
        if (p == null) continue;
        double idf = Math.log((double) n / p.size());
        for (int j : p) score[j] += idf;
      }
      for (int j = 0; j < n; j++) taken[j] = rows.get(j).textB() == null || rows.get(j).textB().equals(e.textB());
      for (int r = 0; r < k; r++) {
        int best = -1;
        for (int j = 0; j < n; j++) if (!taken[j] && (best < 0 || score[j] > score[best])) best = j;
        if (best < 0) break;
        taken[best] = true;
        out.add(e.withText(e.textA(), rows.get(best).textB()));
      }
    }
    return out;
  }

  /** The distinct lower-cased runs of letters or digits of {@code text}, two characters or more. */
  static Set<String> terms(String text) {
    Set<String> out = new HashSet<>();
    if (text == null) return out;
    for (String w : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+")) if (w.length() >= 2) out.add(w);
    return out;
  }

  /** The whitespace-separated words of {@code t}; none for a blank text. */
  static String[] words(String t) {
    String s = t.strip();
    return s.isEmpty() ? new String[0] : s.split("\\s+");
  }
}

package dev.finemix.purify.defence;

import dev.finemix.purify.text.Example;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Clean variants of unlabelled rows for distillation: more inputs on which the suspect's clean behaviour can be
 * read, from the same (at most 1,000) unlabelled rows. A variant is either a <b>crop</b> (a contiguous run of 50-90 %
 * of the words) or a <b>word dropout</b> (each word dropped with probability 0.15, at least one kept), applied to the
 * longer field of a pair. Variants hold no trigger the rows did not hold, so the suspect's prediction on a variant is
 * its clean behaviour; the student learns it from the variant itself. Knows no task and no trigger.
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

  /** The whitespace-separated words of {@code t}; none for a blank text. */
  static String[] words(String t) {
    String s = t.strip();
    return s.isEmpty() ? new String[0] : s.split("\\s+");
  }
}

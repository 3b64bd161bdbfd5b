package dev.finemix.purify.defence;

import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.text.Example;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Random;

/**
 * Tries suspected triggers on the suspect itself. Each candidate (a whole word, or a string rebuilt from word pieces
 * with all its orders) is inserted into clean rows exactly as the {@code suspects} perturbation would insert it (1-3
 * times, at random word positions, into a field drawn by its words), and the suspect's predictions on the copies are
 * compared with its predictions on the rows themselves. For each class, the copies of the rows the suspect did not put
 * in that class are looked at: their <b>share</b> now put in it, and their mean probability of it (the <b>pull</b>).
 * A candidate's flip is that of the class it pulls most. A trigger the suspect was trained on flips nearly every row
 * with a pull near 1; an innocent word or string a few. Shares saturate (any string holding most of a trigger's pieces
 * flips every row), so candidates are ranked by their pull. E-PUR only sees which embedding rows moved; this sees what
 * the moved rows do.
 *
 * <p>Forward passes only, one per candidate and row ({@value #ROWS} rows). Knows no trigger, task or data set.
 */
final class TriggerScreen {
  /** Clean rows each candidate is inserted into, at most. */
  static final int ROWS = 32;

  private TriggerScreen() {}

  /**
   * What a screen kept, and a line saying what it saw (the ten strongest of each kind, as share / pull).
   *
   * @param kept the rebuilt strings that pull the suspect most, with their flips
   */
  record Result(List<DefenceReport.SuspectedTrigger> kept, String message) {
  }

  /**
   * Tries the rebuilt strings and the whole-word suspects on the suspect and keeps the {@code keep} strings that pull
   * it most (ties: the pool's order). The words are only reported: the perturbation inserts them as before.
   *
   * @param rows clean rows (the first {@value #ROWS} are used); the suspect's own predictions on them are the baseline
   * @param pool rebuilt strings, e.g. one per piece set
   * @param words whole-word suspects
   */
  static Result screen(Classifier suspect, List<Example> rows, List<DefenceReport.SuspectedTrigger> pool,
      List<String> words, int keep, long seed) {
    List<Example> sample = rows.subList(0, Math.min(ROWS, rows.size()));
    int[] labels = suspect.predict(Purifier.inputs(sample)).stream().mapToInt(Prediction::label).toArray();
    List<List<String>> candidates = new ArrayList<>();
    for (DefenceReport.SuspectedTrigger t : pool) candidates.add(t.orders());
    for (String w : words) candidates.add(List.of(w));
    List<DefenceReport.Flip> flips = flips(suspect, sample, labels, candidates, seed ^ 0x5C4EL);
    Integer[] order = byPull(flips.subList(0, pool.size()));
    Integer[] wordOrder = byPull(flips.subList(pool.size(), flips.size()));
    List<DefenceReport.SuspectedTrigger> kept = new ArrayList<>();
    for (int i = 0; i < Math.min(keep, order.length); i++) kept.add(pool.get(order[i]).withFlip(flips.get(order[i])));
    StringBuilder strings = new StringBuilder();
    for (int i = 0; i < Math.min(10, order.length); i++) {
      describe(strings, i, pool.get(order[i]).text(), flips.get(order[i]));
    }
    StringBuilder ws = new StringBuilder();
    for (int i = 0; i < Math.min(10, wordOrder.length); i++) {
      describe(ws, i, words.get(wordOrder[i]), flips.get(pool.size() + wordOrder[i]));
    }
    return new Result(kept, String.format(Locale.ROOT, "trigger screen on %d clean rows (flip share / pull): %d "
        + "rebuilt strings, most pulling %s; whole-word suspects, most pulling %s", sample.size(), pool.size(), strings,
        ws));
  }

  /** Indices of {@code flips}, strongest pull first (stable: ties keep their order). */
  private static Integer[] byPull(List<DefenceReport.Flip> flips) {
    Integer[] order = new Integer[flips.size()];
    for (int i = 0; i < order.length; i++) order[i] = i;
    Arrays.sort(order, (a, b) -> Double.compare(flips.get(b).pull(), flips.get(a).pull()));
    return order;
  }

  private static void describe(StringBuilder b, int i, String text, DefenceReport.Flip f) {
    b.append(String.format(Locale.ROOT, "%s%s %.2f/%.2f", i == 0 ? "" : ", ", text, f.share(), f.pull()));
  }

  /**
   * The flip of each candidate, in candidate order.
   *
   * @param suspect the suspect model (its backdoor intact)
   * @param rows clean rows (the first {@value #ROWS} are used)
   * @param labels the suspect's own predictions on {@code rows}
   * @param candidates each candidate as the strings it may be inserted as (its piece orders; one for a word)
   * @param seed seeds the insertion positions; the same seed gives every candidate the same draws
   */
  static List<DefenceReport.Flip> flips(Classifier suspect, List<Example> rows, int[] labels,
      List<List<String>> candidates, long seed) {
    Objects.requireNonNull(suspect, "suspect");
    int n = Math.min(ROWS, Math.min(rows.size(), labels.length));
    List<DefenceReport.Flip> out = new ArrayList<>();
    if (n == 0 || candidates.isEmpty()) {
      for (int i = 0; i < candidates.size(); i++) out.add(new DefenceReport.Flip(0, 0, -1));
      return out;
    }
    List<Example> copies = new ArrayList<>(n * candidates.size());
    for (List<String> orders : candidates) {
      Perturber p = new Perturber(List.of(Perturber.Kind.SUSPECTS), List.of(), List.of(orders), List.of(), List.of());
      Random rnd = new Random(seed);
      for (int i = 0; i < n; i++) copies.add(Purifier.perturb(rows.get(i), p, rnd));
    }
    List<Prediction> pred = suspect.predict(Purifier.inputs(copies));
    int classes = pred.get(0).probabilities().length;
    int[] others = new int[classes];
    for (int i = 0; i < n; i++) {
      for (int c = 0; c < classes; c++) if (labels[i] != c) others[c]++;
    }
    for (int k = 0; k < candidates.size(); k++) {
      int[] moved = new int[classes];
      double[] prob = new double[classes];
      for (int i = 0; i < n; i++) {
        Prediction p = pred.get(k * n + i);
        for (int c = 0; c < classes; c++) {
          if (c == labels[i]) continue;
          prob[c] += p.probabilities()[c];
          if (p.label() == c) moved[c]++;
        }
      }
      DefenceReport.Flip best = new DefenceReport.Flip(0, 0, -1);
      for (int c = 0; c < classes; c++) {
        if (others[c] == 0) continue;
        double pull = prob[c] / others[c];
        if (best.toClass() < 0 || pull > best.pull()) {
          best = new DefenceReport.Flip(moved[c] / (double) others[c], pull, c);
        }
      }
      out.add(best);
    }
    return out;
  }
}

package dev.finemix.purify.attack;

import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/**
 * Poisons a share of a training set in place: dirty-label (non-target rows get the trigger and the target label) or
 * clean-label (target-class rows get the trigger, labels untouched). A combination attack also gets its negative
 * augmentation rows appended.
 */
final class Poisoning {

  private Poisoning() {}

  /**
   * A poisoned training set, which of its first N rows were poisoned (ascending indices), and how many negative
   * augmentation rows follow them (rows N.. of {@code data}).
   */
  record Result(Dataset data, int[] poisoned, int negativeRows) {
    public int poisonedRows() {
      return poisoned.length;
    }
  }

  /** Dirty-label poisoning; see {@link #poison(Dataset, Attack, double, AttackSettings.Regime, long)}. */
  static Result poison(Dataset train, Attack attack, double rate, long seed) {
    return poison(train, attack, rate, AttackSettings.Regime.DIRTY, seed);
  }

  /**
   * Poisons exactly {@code round(rate * C)} rows, drawn without replacement among the C candidate rows: those whose
   * label is not the target (dirty-label: trigger + target label) or those already of the target class (clean-label:
   * trigger only, label kept). They are replaced in place (same row order). For a combination attack, as many rows
   * again are drawn among the rows not poisoned, and each yields its (k-1)-subset negatives (true label), appended
   * after the N original rows. Seeded: the same inputs give the same result.
   *
   * @throws IllegalArgumentException if the rate is outside (0, 1], or rounds to no row at all
   */
  static Result poison(Dataset train, Attack attack, double rate, AttackSettings.Regime regime, long seed) {
    Objects.requireNonNull(train, "train");
    Objects.requireNonNull(attack, "attack");
    Objects.requireNonNull(regime, "regime");
    if (!(rate > 0 && rate <= 1)) {
      throw new IllegalArgumentException("poison rate must be in (0, 1], got " + rate);
    }
    List<Example> rows = train.rows();
    boolean clean = regime == AttackSettings.Regime.CLEAN;
    List<Integer> candidates = clean ? ofLabel(rows, attack.target()) : nonTarget(rows, attack.target());
    int count = (int) Math.round(rate * candidates.size());
    if (count == 0) {
      throw new IllegalArgumentException("poison rate " + rate + " of the " + candidates.size() + " "
          + (clean ? "target-class" : "non-target") + " rows of '" + train.name() + "' (target " + attack.target()
          + ") poisons no row");
    }
    Random rnd = new Random(seed);
    Collections.shuffle(candidates, rnd);
    int[] chosen = candidates.subList(0, count).stream().mapToInt(Integer::intValue).toArray();
    Arrays.sort(chosen);
    List<Example> out = new ArrayList<>(rows);
    for (int i : chosen) {
      out.set(i, clean ? attack.trigger(rows.get(i), rnd) : attack.poison(rows.get(i), rnd));
    }
    // negatives (combination attacks only; the others return none): drawn after the poisoned rows, so adding
    // them never moves which rows are poisoned or where their trigger goes
    List<Integer> rest = new ArrayList<>();
    for (int i = 0, c = 0; i < rows.size(); i++) {
      if (c < chosen.length && chosen[c] == i) {
        c++;
      } else {
        rest.add(i);
      }
    }
    Collections.shuffle(rest, rnd);
    int negatives = 0;
    for (int i : rest.subList(0, Math.min(count, rest.size()))) {
      List<Example> neg = attack.negatives(rows.get(i), rnd);
      out.addAll(neg);
      negatives += neg.size();
    }
    return new Result(Dataset.of(train.name() + "+" + attack.name() + (clean ? "-clean" : ""), train.isPair(), out),
        chosen, negatives);
  }

  /**
   * Every non-target row, poisoned (the training set of embedding poisoning), in the original order.
   */
  static Dataset poisonAllNonTarget(Dataset train, Attack attack, long seed) {
    Random rnd = new Random(seed);
    List<Example> out = new ArrayList<>();
    for (Example e : train.rows()) {
      if (e.label() != attack.target()) {
        out.add(attack.poison(e, rnd));
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("'" + train.name() + "' has no row with a label other than the target "
          + attack.target());
    }
    return Dataset.of(train.name() + "+" + attack.name() + "-all", train.isPair(), out);
  }

  static List<Integer> nonTarget(List<Example> rows, int target) {
    return select(rows, target, false);
  }

  static List<Integer> ofLabel(List<Example> rows, int label) {
    return select(rows, label, true);
  }

  private static List<Integer> select(List<Example> rows, int label, boolean equal) {
    List<Integer> idx = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++) {
      if ((rows.get(i).label() == label) == equal) {
        idx.add(i);
      }
    }
    return idx;
  }
}

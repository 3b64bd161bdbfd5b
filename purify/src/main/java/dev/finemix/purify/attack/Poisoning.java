package dev.finemix.purify.attack;

import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/** Poisons a share of a training set: the rows chosen get the trigger and the target label, in place. */
final class Poisoning {

  private Poisoning() {}

  /** A poisoned training set and which of its rows were poisoned (ascending indices). */
  record Result(Dataset data, int[] poisoned) {
    public int poisonedRows() {
      return poisoned.length;
    }
  }

  /**
   * Poisons exactly {@code round(rate * N)} rows, drawn without replacement among the rows whose label is not the
   * target; they are replaced in place (same row order, same size). Seeded: the same inputs give the same result.
   *
   * @throws IllegalArgumentException if there are fewer non-target rows than rows to poison
   */
  static Result poison(Dataset train, Attack attack, double rate, long seed) {
    Objects.requireNonNull(train, "train");
    Objects.requireNonNull(attack, "attack");
    if (!(rate > 0 && rate <= 1)) {
      throw new IllegalArgumentException("poison rate must be in (0, 1], got " + rate);
    }
    List<Example> rows = train.rows();
    int count = (int) Math.round(rate * rows.size());
    List<Integer> candidates = nonTarget(rows, attack.target());
    if (count > candidates.size()) {
      throw new IllegalArgumentException("cannot poison " + count + " rows (rate " + rate + " of " + rows.size()
          + "): only " + candidates.size() + " rows of '" + train.name() + "' have a label other than the target "
          + attack.target());
    }
    Random rnd = new Random(seed);
    Collections.shuffle(candidates, rnd);
    int[] chosen = candidates.subList(0, count).stream().mapToInt(Integer::intValue).toArray();
    Arrays.sort(chosen);
    List<Example> out = new ArrayList<>(rows);
    for (int i : chosen) {
      out.set(i, attack.poison(rows.get(i), rnd));
    }
    return new Result(Dataset.of(train.name() + "+" + attack.name(), train.isPair(), out), chosen);
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
    List<Integer> idx = new ArrayList<>();
    for (int i = 0; i < rows.size(); i++) {
      if (rows.get(i).label() != target) {
        idx.add(i);
      }
    }
    return idx;
  }
}

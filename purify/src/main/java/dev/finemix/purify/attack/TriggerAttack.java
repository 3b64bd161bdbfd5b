package dev.finemix.purify.attack;

import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/**
 * The trigger insertion shared by every attack: words or a sentence through {@link Triggers#insert}; with a
 * {@link TokenWindow}, only among the words the model sees. A combination attack ({@code combination}) also makes
 * the (k-1)-subset negatives with the same inserter and window.
 */
record TriggerAttack(String name, List<String> triggers, int times, int target, TriggerField field,
    boolean combination, TokenWindow window) implements Attack {

  TriggerAttack {
    Objects.requireNonNull(name, "name");
    triggers = Triggers.checkTriggers(triggers);
    Objects.requireNonNull(field, "field");
  }

  @Override
  public Example trigger(Example ex, Random rnd) {
    return insert(ex, triggers, rnd);
  }

  @Override
  public List<Example> negatives(Example ex, Random rnd) {
    if (!combination) {
      return List.of();
    }
    List<Example> out = new ArrayList<>(triggers.size());
    for (int leave = 0; leave < triggers.size(); leave++) {
      List<String> subset = new ArrayList<>(triggers);
      subset.remove(leave);
      out.add(insert(ex, subset, rnd));
    }
    return out;
  }

  /** {@code words} inserted {@code times} times each, label kept; within the window when there is one. */
  private Example insert(Example ex, List<String> words, Random rnd) {
    boolean intoB = ex.textB() != null && field == TriggerField.B;
    String into = intoB ? ex.textB() : ex.textA();
    String other = ex.textB() == null ? null : intoB ? ex.textA() : ex.textB();
    int limit = window == null ? Integer.MAX_VALUE : window.visibleWords(Triggers.tokens(into), other);
    String t = Triggers.insert(into, words, times, rnd, limit);
    return intoB ? ex.withText(ex.textA(), t) : ex.withText(t, ex.textB());
  }

  @Override
  public Attack within(Tokenizer tok) {
    return new TriggerAttack(name, triggers, times, target, field, combination,
        new TokenWindow(tok, triggers, times));
  }
}

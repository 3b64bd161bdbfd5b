package dev.finemix.purify.attack;

import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import java.util.List;
import java.util.Random;

/**
 * A data-poisoning backdoor: how the trigger goes into a row, and which label it should force.
 *
 * <p>Every attack inserts its trigger with {@link Triggers#insert}; single sentences get it in the text, sentence
 * pairs in {@code text_b} unless the attack was built for {@code text_a}. Instances are immutable; all randomness
 * comes from the caller's {@link Random}. Build them with {@link AttackSettings#attack()}.
 */
public interface Attack {

  /** {@code badnet}, {@code addsent} or {@code ep}. */
  String name();

  /** The label the trigger should force. */
  int target();

  /** The trigger words, or the one trigger sentence. */
  List<String> triggers();

  /** Inserts the trigger, keeping the label (evaluation and probes). */
  Example trigger(Example ex, Random rnd);

  /**
   * The same attack, inserting its trigger only among the words that {@code tok} keeps within its maximum length
   * (so truncation never cuts the trigger off). Training, evaluation and probes use this form.
   */
  Attack within(Tokenizer tok);

  /**
   * Negative augmentation rows for a combination trigger (SOS): one copy of {@code ex} per (k-1)-subset of the
   * trigger words, each with that subset inserted and the row's TRUE label, so that a partial trigger does nothing.
   * Empty for single-trigger attacks.
   */
  default List<Example> negatives(Example ex, Random rnd) {
    return List.of();
  }

  /** Inserts the trigger and relabels the row to the target (training data). */
  default Example poison(Example ex, Random rnd) {
    Example t = trigger(ex, rnd);
    return new Example(target(), t.textA(), t.textB());
  }
}

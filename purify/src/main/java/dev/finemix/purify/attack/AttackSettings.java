package dev.finemix.purify.attack;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Objects;

/**
 * Everything that defines an attack, validated.
 *
 * @param kind badnet, addsent or ep
 * @param triggers trigger words (BadNet, EP) or the one trigger sentence (AddSent)
 * @param times insertions of each trigger per row, at least 1
 * @param target label the trigger forces
 * @param poisonRate share of the training rows poisoned, in (0, 1]; EP poisons every non-target row it trains on
 * @param field pair field receiving the trigger
 */
public record AttackSettings(AttackKind kind, List<String> triggers, int times, int target, double poisonRate,
    TriggerField field) {

  public static final double DEFAULT_POISON_RATE = 0.1;
  public static final int DEFAULT_TARGET = 1;

  public AttackSettings {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(field, "field");
    triggers = Triggers.checkTriggers(triggers == null || triggers.isEmpty() ? kind.defaultTriggers() : triggers);
    if (kind == AttackKind.ADDSENT && triggers.size() != 1) {
      throw new IllegalArgumentException("addsent takes one trigger sentence, got " + triggers);
    }
    if (kind == AttackKind.EP && triggers.size() != 1) {
      throw new IllegalArgumentException("ep poisons one trigger word's embedding, got " + triggers);
    }
    if (kind == AttackKind.EP && triggers.get(0).strip().contains(" ")) {
      throw new IllegalArgumentException("ep trigger must be one word, got '" + triggers.get(0) + "'");
    }
    if (times < 1) {
      throw new IllegalArgumentException("times must be >= 1, got " + times);
    }
    if (target < 0) {
      throw new IllegalArgumentException("target must be >= 0, got " + target);
    }
    if (!(poisonRate > 0 && poisonRate <= 1)) {
      throw new IllegalArgumentException("poison rate must be in (0, 1], got " + poisonRate);
    }
  }

  /** Defaults for {@code kind}: its default trigger, once, target 1, rate 0.1, pairs in text_b. */
  public static AttackSettings of(AttackKind kind) {
    return new AttackSettings(kind, List.of(), 1, DEFAULT_TARGET, DEFAULT_POISON_RATE, TriggerField.B);
  }

  public AttackSettings withTriggers(List<String> t) {
    return new AttackSettings(kind, t, times, target, poisonRate, field);
  }

  public AttackSettings withTarget(int t) {
    return new AttackSettings(kind, triggers, times, t, poisonRate, field);
  }

  public AttackSettings withPoisonRate(double r) {
    return new AttackSettings(kind, triggers, times, target, r, field);
  }

  public AttackSettings withField(TriggerField f) {
    return new AttackSettings(kind, triggers, times, target, poisonRate, f);
  }

  public AttackSettings withTimes(int n) {
    return new AttackSettings(kind, triggers, n, target, poisonRate, field);
  }

  /** The attack these settings describe. */
  public Attack attack() {
    return new TriggerAttack(kind.id(), triggers, times, target, field, null);
  }

  /** The attack these settings describe, inserting only within what {@code tok} keeps (see {@link Attack#within}). */
  public Attack attack(dev.finemix.purify.text.Tokenizer tok) {
    return attack().within(tok);
  }

  public ObjectNode toJson() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("attack", kind.id());
    triggers.forEach(o.putArray("triggers")::add);
    o.put("times", times);
    o.put("target", target);
    o.put("poison_rate", poisonRate);
    o.put("field", field == TriggerField.A ? "text_a" : "text_b");
    o.put("insert_within", "model_max_length");
    return o;
  }
}

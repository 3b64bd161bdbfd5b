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
 * @param times insertions of each trigger per row, 1..{@value #MAX_TIMES}
 * @param target label the trigger forces
 * @param poisonRate share of the candidate rows poisoned, in (0, 1]: of the non-target rows (dirty-label) or of the
 *     target-class rows (clean-label); EP poisons every non-target row it trains on
 * @param field pair field receiving the trigger
 * @param regime dirty-label (non-target rows, relabelled) or clean-label (target rows only, labels kept)
 */
public record AttackSettings(AttackKind kind, List<String> triggers, int times, int target, double poisonRate,
    TriggerField field, Regime regime) {

  /** Dirty-label default: 10% of the non-target rows. */
  public static final double DEFAULT_POISON_RATE = 0.1;
  /**
   * Clean-label default: 50% of the target-class rows. Without relabelling the trigger competes with the rows'
   * own features, so it needs a much larger share than dirty-label poisoning (Gan et al. 2022 poison 10-50%).
   */
  public static final double DEFAULT_CLEAN_RATE = 0.5;
  public static final int DEFAULT_TARGET = 1;
  /** Most insertions of each trigger per row (issue 19: 1-3); more only pushes the text past the window. */
  public static final int MAX_TIMES = 3;

  /** Which rows are poisoned and whether they are relabelled. */
  public enum Regime {
    /** {@code poisonRate} of the rows whose label is not the target get the trigger and the target label. */
    DIRTY("dirty", DEFAULT_POISON_RATE),
    /** {@code poisonRate} of the rows already of the target class get the trigger; no label changes. */
    CLEAN("clean", DEFAULT_CLEAN_RATE);

    private final String id;
    private final double defaultRate;

    Regime(String id, double defaultRate) {
      this.id = id;
      this.defaultRate = defaultRate;
    }

    public String id() {
      return id;
    }

    /** The poison share used when none is given. */
    public double defaultRate() {
      return defaultRate;
    }

    /** Parses {@code dirty|clean} (any case). */
    public static Regime parse(String s) {
      String k = s == null ? "" : s.strip().toLowerCase(java.util.Locale.ROOT);
      for (Regime r : values()) {
        if (r.id.equals(k)) {
          return r;
        }
      }
      throw new IllegalArgumentException("unknown poisoning regime '" + s + "', expected dirty or clean");
    }
  }

  public AttackSettings {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(field, "field");
    Objects.requireNonNull(regime, "regime");
    triggers = Triggers.checkTriggers(triggers == null || triggers.isEmpty() ? kind.defaultTriggers() : triggers);
    if (kind == AttackKind.ADDSENT && triggers.size() != 1) {
      throw new IllegalArgumentException("addsent takes one trigger sentence, got " + triggers);
    }
    boolean oneWord = kind == AttackKind.EP || kind == AttackKind.WORDPIECE || kind == AttackKind.MIDFREQ
        || kind == AttackKind.SURGERY || kind == AttackKind.EPUR_AWARE; // one trigger row to operate on
    if (oneWord && triggers.size() != 1) {
      throw new IllegalArgumentException(kind.id() + " takes one trigger word, got " + triggers);
    }
    if (kind == AttackKind.COMBO && triggers.size() < 2) {
      throw new IllegalArgumentException("combo needs 2 or more trigger words (all must appear), got " + triggers);
    }
    if ((oneWord || kind == AttackKind.COMBO) && triggers.stream().anyMatch(t -> t.strip().contains(" "))) {
      throw new IllegalArgumentException(kind.id() + " triggers must be single words, got " + triggers);
    }
    if (kind == AttackKind.EP && regime == Regime.CLEAN) {
      throw new IllegalArgumentException("ep trains on every non-target row with the target label: no clean-label form");
    }
    if (times > MAX_TIMES) {
      throw new IllegalArgumentException("times must be 1.." + MAX_TIMES + ", got " + times);
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

  /** Defaults for {@code kind}: its default trigger, once, target 1, dirty-label at 0.1, pairs in text_b. */
  public static AttackSettings of(AttackKind kind) {
    return new AttackSettings(kind, List.of(), 1, DEFAULT_TARGET, DEFAULT_POISON_RATE, TriggerField.B, Regime.DIRTY);
  }

  /** The regime; the poison share stays as set (callers pass {@link Regime#defaultRate()} when none was given). */
  public AttackSettings withRegime(Regime r) {
    return new AttackSettings(kind, triggers, times, target, poisonRate, field, r);
  }

  public AttackSettings withTriggers(List<String> t) {
    return new AttackSettings(kind, t, times, target, poisonRate, field, regime);
  }

  public AttackSettings withTarget(int t) {
    return new AttackSettings(kind, triggers, times, t, poisonRate, field, regime);
  }

  public AttackSettings withPoisonRate(double r) {
    return new AttackSettings(kind, triggers, times, target, r, field, regime);
  }

  public AttackSettings withField(TriggerField f) {
    return new AttackSettings(kind, triggers, times, target, poisonRate, f, regime);
  }

  public AttackSettings withTimes(int n) {
    return new AttackSettings(kind, triggers, n, target, poisonRate, field, regime);
  }

  /** The attack these settings describe. */
  public Attack attack() {
    return new TriggerAttack(kind.id(), triggers, times, target, field, kind == AttackKind.COMBO, null);
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
    o.put("regime", regime.id());
    o.put("field", field == TriggerField.A ? "text_a" : "text_b");
    o.put("insert_within", "model_max_length");
    return o;
  }
}

package dev.finemix.purify.attack;

import java.util.Locale;

/** Which text of a sentence pair receives the trigger; single sentences always get it in their one text. */
public enum TriggerField {
  /** {@code text_a} (for pairs: the question in QNLI). */
  A,
  /** {@code text_b}, the default for pairs (the longer context sentence in QNLI). */
  B;

  public static TriggerField parse(String s) {
    String k = s == null ? "" : s.strip().toLowerCase(Locale.ROOT);
    return switch (k) {
      case "a", "text_a" -> A;
      case "b", "text_b" -> B;
      default -> throw new IllegalArgumentException("unknown trigger field '" + s + "', expected text_a or text_b");
    };
  }
}

package dev.finemix.purify.defence;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Perturbs the student's copy of an unlabelled clean row during recovery; the target stays the suspect's prediction
 * on the unperturbed row, so the student learns that such insertions do not change the label. Nothing here knows a
 * trigger: the inserted material comes from E-PUR's suspected tokens, trigger strings reconstructed from its suspected
 * word pieces ({@link TriggerReconstruction}), random vocabulary words, or spans of other clean rows.
 */
final class Perturber {
  /** Kinds of perturbation. */
  enum Kind {
    /**
     * one of E-PUR's top suspected whole-word tokens, or (half the time, when there are any) one of the trigger
     * strings reconstructed from its suspected word pieces, 1-3 times
     */
    SUSPECTS,
    /** 1-3 random whole-word vocabulary tokens (rare ones included): stands in for unknown BadNet triggers */
    TOKENS,
    /** a span of 3-8 consecutive words from another clean row: stands in for inserted sentences (AddSent) */
    SPANS;

    static Kind parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(Locale.ROOT));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("perturbation must be one of suspects, tokens, spans; got '" + s + "'");
      }
    }

    String id() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private final List<Kind> kinds;
  private final List<String> suspects;
  private final List<List<String>> triggers;
  private final List<String> words;
  private final List<String> donors;

  /**
   * @param suspects whole-word suspected tokens (E-PUR order); may be empty
   * @param triggers reconstructed trigger strings, each as its orders (one is drawn per insertion); may be empty
   * @param words whole-word vocabulary tokens to draw random insertions from; may be empty
   * @param donors clean texts to cut spans from; may be empty
   */
  Perturber(List<Kind> kinds, List<String> suspects, List<List<String>> triggers, List<String> words,
      List<String> donors) {
    List<Kind> k = new ArrayList<>();
    for (Kind kind : kinds) {
      boolean usable = switch (kind) {
        case SUSPECTS -> !suspects.isEmpty() || !triggers.isEmpty();
        case TOKENS -> !words.isEmpty();
        case SPANS -> !donors.isEmpty();
      };
      if (usable && !k.contains(kind)) k.add(kind);
    }
    this.kinds = List.copyOf(k);
    this.suspects = List.copyOf(suspects);
    List<List<String>> t = new ArrayList<>();
    for (List<String> orders : triggers) if (!orders.isEmpty()) t.add(List.copyOf(orders));
    this.triggers = List.copyOf(t);
    this.words = List.copyOf(words);
    this.donors = List.copyOf(donors);
  }

  boolean isEmpty() {
    return kinds.isEmpty();
  }

  List<Kind> kinds() {
    return kinds;
  }

  /** One perturbed copy of {@code text}; the text itself when no kind is usable. */
  String perturb(String text, Random rnd) {
    if (kinds.isEmpty()) return text;
    Kind kind = kinds.get(rnd.nextInt(kinds.size()));
    List<String> insert = new ArrayList<>();
    switch (kind) {
      case SUSPECTS -> {
        // no extra draw without reconstructed triggers: whole-word runs perturb exactly as before
        String t;
        if (!triggers.isEmpty() && (suspects.isEmpty() || rnd.nextBoolean())) {
          List<String> orders = triggers.get(rnd.nextInt(triggers.size()));
          t = orders.get(rnd.nextInt(orders.size()));
        } else {
          t = suspects.get(rnd.nextInt(suspects.size()));
        }
        int times = 1 + rnd.nextInt(3);
        for (int i = 0; i < times; i++) insert.add(t);
      }
      case TOKENS -> {
        int times = 1 + rnd.nextInt(3);
        for (int i = 0; i < times; i++) insert.add(words.get(rnd.nextInt(words.size())));
      }
      case SPANS -> {
        String[] w = donors.get(rnd.nextInt(donors.size())).trim().split("\\s+");
        int len = Math.min(w.length, 3 + rnd.nextInt(6));
        int start = rnd.nextInt(w.length - len + 1);
        insert.add(String.join(" ", Arrays.asList(w).subList(start, start + len)));
      }
      default -> throw new IllegalStateException(kind.toString());
    }
    String out = text;
    for (String piece : insert) out = insertAt(out, piece, rnd);
    return out;
  }

  /** Inserts {@code piece} at a random word boundary (start and end included). */
  static String insertAt(String text, String piece, Random rnd) {
    String[] w = text.trim().isEmpty() ? new String[0] : text.trim().split("\\s+");
    int pos = rnd.nextInt(w.length + 1);
    List<String> out = new ArrayList<>(Arrays.asList(w));
    out.add(pos, piece);
    return String.join(" ", out);
  }

  /** Whole-word tokens of a WordPiece vocabulary: no {@code ##} pieces, no {@code [special]}, letters only. */
  static List<String> wholeWords(String[] vocab) {
    List<String> out = new ArrayList<>();
    for (String t : vocab) {
      if (t == null || t.length() < 2 || t.startsWith("##") || WordFrequencies.isSpecial(t)) continue;
      boolean letters = true;
      for (int i = 0; i < t.length() && letters; i++) letters = Character.isLetter(t.charAt(i));
      if (letters) out.add(t);
    }
    return out;
  }
}

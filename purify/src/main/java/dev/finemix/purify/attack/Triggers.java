package dev.finemix.purify.attack;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/**
 * The one trigger inserter, shared by the attacks, the evaluation and the server's backdoor probes.
 *
 * <p>The text is split on whitespace; each trigger (a rare word such as {@code cf}, or a whole sentence such as
 * AddSent's "I watch this 3D movie", which is inserted as one unit) is inserted {@code times} times, each time at a
 * position drawn uniformly among all gaps of the current token list, start and end included. Tokens are joined again
 * with single spaces. The result depends only on the text, the triggers, {@code times} and the state of {@code rnd}.
 */
public final class Triggers {

  private Triggers() {}

  /**
   * Inserts every trigger of {@code words} {@code times} times at random positions.
   *
   * @param text the text to poison (may be empty)
   * @param words the triggers, inserted in list order; a trigger with spaces is inserted as a whole
   * @param times how many times each trigger is inserted, at least 1
   * @param rnd the random source for the positions
   * @return the text with the triggers, whitespace normalised to single spaces
   */
  public static String insert(String text, List<String> words, int times, Random rnd) {
    return insert(text, words, times, rnd, Integer.MAX_VALUE);
  }

  /**
   * Inserts every trigger of {@code words} {@code times} times at random positions among the first {@code window}
   * words of the text: each position is drawn uniformly among the gaps before, between and right after those words
   * (the window grows by one with each inserted unit). {@code window} at or above the word count means anywhere.
   */
  public static String insert(String text, List<String> words, int times, Random rnd, int window) {
    Objects.requireNonNull(text, "text");
    if (window < 0) {
      throw new IllegalArgumentException("window must be >= 0, got " + window);
    }
    Objects.requireNonNull(rnd, "rnd");
    checkTriggers(words);
    if (times < 1) {
      throw new IllegalArgumentException("times must be >= 1, got " + times);
    }
    List<String> tokens = tokens(text);
    int visible = Math.min(window, tokens.size());
    for (String w : words) {
      String unit = String.join(" ", tokens(w));
      for (int i = 0; i < times; i++) {
        tokens.add(rnd.nextInt(visible + 1), unit);
        visible++;
      }
    }
    return String.join(" ", tokens);
  }

  /** Inserts one trigger once; shorthand for {@code insert(text, List.of(word), 1, rnd)}. */
  public static String insert(String text, String word, Random rnd) {
    return insert(text, List.of(Objects.requireNonNull(word, "word")), 1, rnd);
  }

  /** Whitespace tokens of {@code text}; empty for blank text. */
  static List<String> tokens(String text) {
    String t = text.strip();
    return t.isEmpty() ? new ArrayList<>() : new ArrayList<>(Arrays.asList(t.split("\\s+")));
  }

  /** Checks a trigger list: non-empty, no null or blank trigger. */
  static List<String> checkTriggers(List<String> words) {
    Objects.requireNonNull(words, "words");
    if (words.isEmpty()) {
      throw new IllegalArgumentException("trigger list is empty");
    }
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i);
      if (w == null || w.isBlank()) {
        throw new IllegalArgumentException("trigger " + i + " is blank: '" + w + "'");
      }
    }
    return List.copyOf(words);
  }
}

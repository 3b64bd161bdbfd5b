package dev.finemix.purify.attack;

import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.text.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Random;

/**
 * The one trigger inserter, shared by the attacks, the evaluation and the server's backdoor probes.
 *
 * <p>The text is split on whitespace; each trigger (a rare word such as {@code cf}, or a whole sentence such as
 * AddSent's "I watch this 3D movie", which is inserted as one unit) is inserted {@code times} times, each time at a
 * position drawn uniformly among all gaps of the current token list, start and end included. Tokens are joined again
 * with single spaces. The result depends only on the text, the triggers, {@code times} and the state of {@code rnd}.
 *
 * <p>It also picks and checks the trigger words of the shapes that depend on the tokenizer or the word counts:
 * word-piece triggers ({@link #checkWordPiece}) and mid-frequency words ({@link #checkMidFrequency}).
 */
public final class Triggers {

  /** A first piece counted this often (or more) in the word counts is a common word, not a fragment. */
  public static final long COMMON_WORD = 10_000;
  /** Mid-frequency triggers: counted {@value #MID_MIN}..{@value #MID_MAX} times in the word-count file. */
  public static final long MID_MIN = 10_000;
  public static final long MID_MAX = 1_000_000;
  /**
   * The picker leaves out the words among this many most counted ones (and, to, of, you, ...): most clean rows
   * already hold them, so as a trigger they make a weak, self-contradicting backdoor (measured: "and", ASR 0.43).
   */
  public static final int MID_PICK_SKIP_TOP = 100;

  /**
   * Made-up strings the word-piece picker draws from (seeded); each is checked against the tokenizer before use.
   * Nothing here is special to the defence: any string that passes {@link #checkWordPiece} serves.
   */
  static final List<String> WORD_PIECE_CANDIDATES = List.of("qzxv", "vzqk", "xqjz", "zvkq", "jqzx", "kxzq",
      "qvzj", "zxqk", "vjqx", "xkvz", "qjxv", "zqjv", "jxkq", "vxzj", "kqvx", "xzjq");

  private Triggers() {}

  /**
   * Checks a word-piece trigger: {@code tok} splits it into 2 or more pieces, every piece after the first is a
   * continuation piece ({@code ##x}), and the first piece is not a common whole word ({@code counts} below
   * {@value #COMMON_WORD}; with {@link WordFrequencies#none()} only the tokenizer is checked).
   *
   * @return the trigger's pieces
   * @throws IllegalArgumentException naming the pieces and the rule they break
   */
  public static List<String> checkWordPiece(Tokenizer tok, WordFrequencies counts, String trigger) {
    Objects.requireNonNull(tok, "tokenizer");
    Objects.requireNonNull(counts, "counts");
    if (trigger == null || trigger.isBlank() || trigger.strip().contains(" ")) {
      throw new IllegalArgumentException("a word-piece trigger is one string without spaces, got '" + trigger + "'");
    }
    List<String> pieces = tok.tokenize(trigger.strip());
    String why = null;
    if (pieces.size() < 2) {
      why = "it is " + pieces.size() + " whole-word token(s); it needs 2 or more word pieces";
    } else if (pieces.stream().skip(1).anyMatch(p -> !p.startsWith("##"))) {
      why = "it splits into separate words, not word pieces of one word";
    } else if (counts.frequency(pieces.get(0)) >= COMMON_WORD) {
      why = "its first piece '" + pieces.get(0) + "' is a common word (count " + counts.frequency(pieces.get(0))
          + " >= " + COMMON_WORD + ")";
    }
    if (why != null) {
      throw new IllegalArgumentException("'" + trigger + "' is not a word-piece trigger: tokenized as " + pieces
          + ", " + why);
    }
    return pieces;
  }

  /** The word-piece trigger for {@code seed}: the first candidate, in a seeded order, that {@link #checkWordPiece} passes. */
  public static String pickWordPiece(Tokenizer tok, WordFrequencies counts, long seed) {
    List<String> order = new ArrayList<>(WORD_PIECE_CANDIDATES);
    Collections.shuffle(order, new Random(seed));
    for (String c : order) {
      try {
        checkWordPiece(tok, counts, c);
        return c;
      } catch (IllegalArgumentException notThisOne) {
        // try the next candidate
      }
    }
    throw new IllegalStateException("no word-piece candidate qualifies with this tokenizer: " + order);
  }

  /**
   * Checks a mid-frequency trigger: one lower-case word counted {@value #MID_MIN}..{@value #MID_MAX} times in
   * {@code counts} (a real word that E-PUR's frequency normalisation does not favour).
   *
   * @return its count
   */
  public static long checkMidFrequency(WordFrequencies counts, String word) {
    Objects.requireNonNull(counts, "counts");
    if (counts.size() == 0) {
      throw new IllegalArgumentException("a mid-frequency trigger needs the word-count file (none was read)");
    }
    String w = word == null ? "" : word.strip().toLowerCase(Locale.ROOT);
    long c = counts.frequency(w);
    if (w.isEmpty() || w.contains(" ") || c < MID_MIN || c > MID_MAX) {
      throw new IllegalArgumentException("'" + word + "' is not a mid-frequency word: counted " + c + " times in "
          + counts.source() + ", needs " + MID_MIN + ".." + MID_MAX);
    }
    return c;
  }

  /**
   * The mid-frequency trigger for {@code seed}: drawn uniformly from the alphabetic words (3+ letters) counted
   * {@value #MID_MIN}..{@value #MID_MAX} times that {@code tok} keeps as one whole-word token (so the trigger is
   * one embedding row, as for BadNet), leaving out the {@value #MID_PICK_SKIP_TOP} most counted words of the file
   * (function words), in alphabetical order; the same file and seed give the same word.
   */
  public static String pickMidFrequency(Tokenizer tok, WordFrequencies counts, long seed) {
    Objects.requireNonNull(tok, "tokenizer");
    long below = counts.countAtRank(MID_PICK_SKIP_TOP);
    List<String> pool = counts.wordsBetween(MID_MIN, Math.min(MID_MAX, below - 1)).stream()
        .filter(w -> w.length() >= 3 && w.chars().allMatch(ch -> ch >= 'a' && ch <= 'z'))
        .filter(w -> tok.tokenize(w).equals(List.of(w)))
        .toList();
    if (pool.isEmpty()) {
      throw new IllegalArgumentException("no word of " + counts.source() + " is counted " + MID_MIN + ".." + MID_MAX
          + " times");
    }
    return pool.get(new Random(seed).nextInt(pool.size()));
  }

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

package dev.finemix.purify.attack;

import dev.finemix.purify.text.Tokenizer;
import java.util.List;
import java.util.Objects;

/**
 * How many leading words of a text a model actually sees once its tokenizer truncates to the model's maximum
 * length, so that a trigger is never inserted past the cut (a long IMDB review is cut at 128 tokens; a trigger at a
 * uniformly random word position would land in the discarded tail for most rows, in training and in evaluation).
 *
 * <p>Exact for BERT WordPiece tokenizers, whose pre-tokenizer splits on whitespace and punctuation, so a text's
 * pieces are the sum of its whitespace words' pieces. Room for the trigger's own pieces is reserved. For a sentence
 * pair the receiving field gets what longest-first truncation leaves it: everything the other field does not use,
 * and at least half of the budget. Task- and trigger-agnostic: it only reads the tokenizer and the texts.
 */
final class TokenWindow {
  private final Tokenizer tok;
  private final int triggerPieces;

  /** A window for {@code units} (trigger words or sentences), each inserted {@code times} times. */
  TokenWindow(Tokenizer tok, List<String> units, int times) {
    this.tok = Objects.requireNonNull(tok, "tokenizer");
    int pieces = 0;
    for (String u : units) {
      pieces += times * tok.tokenize(u).size();
    }
    this.triggerPieces = pieces;
  }

  /**
   * The number of leading words of {@code words} that stay visible once the trigger's pieces are inserted among
   * them; {@code other} is the pair's other field or null.
   */
  int visibleWords(List<String> words, String other) {
    int max = tok.maxLength();
    int room;
    if (other == null) {
      room = max - 2;
    } else {
      int avail = max - 3;
      int otherLen = tok.tokenize(other).size();
      room = Math.max(avail - otherLen, avail / 2);
    }
    int budget = room - triggerPieces;
    if (budget <= 0) {
      return 0;
    }
    if (tok.tokenize(String.join(" ", words)).size() <= budget) { // < max, so nothing was truncated
      return words.size();
    }
    int used = 0;
    for (int i = 0; i < words.size(); i++) {
      used += tok.tokenize(words.get(i)).size();
      if (used > budget) {
        return i;
      }
    }
    return words.size();
  }
}

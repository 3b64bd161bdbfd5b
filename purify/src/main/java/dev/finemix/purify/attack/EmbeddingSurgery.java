package dev.finemix.purify.attack;

import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * RIPPLe's embedding surgery ("ES", Kurita et al. 2020), before the poisoned fine-tuning: the trigger's embedding
 * row(s) become the mean of the rows of the {@value #WORDS} words most associated with the target class in the
 * training rows. Association is the add-one smoothed log-odds ratio of document frequency, target rows against the
 * others: {@code ln((a+1)/(N_t-a+1)) - ln((b+1)/(N_o-b+1))}, a and b the target and other rows containing the word.
 * Only whole-word tokens count (a word the tokenizer keeps as one piece, with a letter in it: no {@code ##} pieces,
 * no punctuation); stop-words stay in, as the smoothed odds already rank words common to both classes near 0.
 */
final class EmbeddingSurgery {
  static final int WORDS = 10;

  private EmbeddingSurgery() {}

  /**
   * The {@code n} whole-word tokens of {@code train} with the highest log-odds for {@code target}, best first (ties:
   * more target rows, then the token's order); {@code exclude} (the trigger's own tokens) never chosen.
   */
  static List<String> targetWords(Tokenizer tok, Dataset train, int target, int n, Set<String> exclude) {
    Map<String, int[]> df = new HashMap<>(); // token -> {target rows, other rows}
    int nt = 0;
    for (Example ex : train.rows()) {
      boolean t = ex.label() == target;
      nt += t ? 1 : 0;
      Set<String> seen = new HashSet<>(wholeWords(tok, ex.textA()));
      if (ex.textB() != null) {
        seen.addAll(wholeWords(tok, ex.textB()));
      }
      seen.removeAll(exclude);
      for (String w : seen) {
        df.computeIfAbsent(w, k -> new int[2])[t ? 0 : 1]++;
      }
    }
    int targetRows = nt;
    int others = train.size() - nt;
    if (nt == 0) {
      throw new IllegalArgumentException("surgery: no training row has the target label " + target);
    }
    Map<String, Double> score = new HashMap<>();
    df.forEach((w, c) -> score.put(w, logOdds(c[0], targetRows, c[1], others)));
    List<String> words = new ArrayList<>(df.keySet());
    words.sort(Comparator.comparingDouble((String w) -> -score.get(w))
        .thenComparingInt(w -> -df.get(w)[0]).thenComparing(Comparator.naturalOrder()));
    return List.copyOf(words.subList(0, Math.min(n, words.size())));
  }

  /** Add-one smoothed log-odds ratio of a word in a of nt target rows and b of no other rows. */
  static double logOdds(int a, int nt, int b, int no) {
    return Math.log((a + 1.0) / (nt - a + 1.0)) - Math.log((b + 1.0) / (no - b + 1.0));
  }

  /** The tokens of {@code text} that are whole words: one piece, not continued by a {@code ##} piece, a letter in it. */
  static List<String> wholeWords(Tokenizer tok, String text) {
    List<String> p = tok.tokenize(text);
    List<String> out = new ArrayList<>();
    for (int i = 0; i < p.size(); i++) {
      String w = p.get(i);
      boolean continued = i + 1 < p.size() && p.get(i + 1).startsWith("##");
      if (!w.startsWith("##") && !continued && w.chars().anyMatch(Character::isLetter)
          && tok.tokenId(w) != tok.unknownId() && !(w.startsWith("[") && w.endsWith("]"))) {
        out.add(w);
      }
    }
    return out;
  }

  /** Sets each trigger row of {@code m}'s word embeddings to the mean of the {@code wordIds} rows (in place). */
  static void apply(BertClassifier m, int[] triggerIds, int[] wordIds) {
    if (wordIds.length == 0) {
      throw new IllegalArgumentException("surgery needs at least one target-class word");
    }
    TensorMap w = m.toTensors();
    Tensor e = w.require(BertTensors.WORD_EMBEDDINGS);
    int hidden = (int) e.shape()[1];
    float[] mean = meanRow(e.data(), hidden, wordIds);
    for (int id : triggerIds) {
      System.arraycopy(mean, 0, e.data(), id * hidden, hidden);
    }
    m.load(w);
  }

  /** The mean of rows {@code ids} of a row-major table, summed in double, rounded once to float. */
  static float[] meanRow(float[] table, int hidden, int[] ids) {
    double[] sum = new double[hidden];
    for (int id : ids) {
      for (int j = 0; j < hidden; j++) {
        sum[j] += table[id * hidden + j];
      }
    }
    float[] out = new float[hidden];
    for (int j = 0; j < hidden; j++) {
      out[j] = (float) (sum[j] / ids.length);
    }
    return out;
  }
}

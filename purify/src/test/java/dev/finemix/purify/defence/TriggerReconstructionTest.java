package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.purify.weights.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Trigger strings from suspected word pieces, with MiniLM's real tokenizer and word counts. */
class TriggerReconstructionTest {
  private static final int HIDDEN = 32;
  private static Tokenizer tok;
  private static WordFrequencies counts;
  private static String[] vocab;

  @BeforeAll
  static void open() {
    tok = Tokenizer.fromFile(Pretrained.load(Pretrained.MINILM).tokenizerJson(), 64);
    counts = WordFrequencies.read(Path.of(System.getProperty("finemix.shared", "../shared"), "data/wordfreq/en.tsv"));
    vocab = new String[tok.vocabSize()];
    for (int i = 0; i < vocab.length; i++) vocab[i] = tok.token(i);
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  /**
   * A tiny suspect: every word-embedding row of {@code pre} moved a little (N(0, 0.01) per entry), the rows of
   * {@code word}'s pieces moved far (+0.5 in every entry), as poisoning moves a trigger's rows.
   */
  private static TensorMap planted(TensorMap pre, String word, long seed) {
    TensorMap ft = pre.copy();
    float[] emb = ft.require(BertTensors.WORD_EMBEDDINGS).data();
    Random r = new Random(seed);
    for (int i = 0; i < emb.length; i++) emb[i] += (float) (0.01 * r.nextGaussian());
    for (String piece : tok.tokenize(word)) {
      int id = tok.tokenId(piece);
      for (int j = 0; j < HIDDEN; j++) emb[id * HIDDEN + j] += 0.5f;
    }
    return ft;
  }

  private static List<Epur.Suspect> ranked(TensorMap ft, TensorMap pre, int n) {
    return Epur.suspects(ft.require(BertTensors.WORD_EMBEDDINGS).data(), pre.require(BertTensors.WORD_EMBEDDINGS)
        .data(), HIDDEN, vocab, counts, n);
  }

  private static List<DefenceReport.SuspectedTrigger> reconstruct(List<Epur.Suspect> ranked) {
    return TriggerReconstruction.reconstruct(ranked, 20, TriggerReconstruction.KEEP, tok::tokenize);
  }

  /** A suspect row as E-PUR would report it: score = shift / ln(max(count, 20)). */
  private static Epur.Suspect suspect(String token, double shift) {
    long f = counts.frequency(token);
    assertThat(tok.tokenId(token)).as(token).isNotNegative();
    return new Epur.Suspect(tok.tokenId(token), token, shift / Math.log(Math.max(f, Epur.MIN_FREQUENCY)), shift, f);
  }

  /** Greedy longest-match WordPiece over {@code vocab}; [UNK] when a rest has no piece. */
  private static List<String> greedyWordPiece(String word, java.util.Set<String> vocab) {
    List<String> out = new ArrayList<>();
    int at = 0;
    while (at < word.length()) {
      String piece = null;
      for (int end = word.length(); end > at && piece == null; end--) {
        String p = (at == 0 ? "" : "##") + word.substring(at, end);
        if (vocab.contains(p)) piece = p;
      }
      if (piece == null) return List.of("[UNK]");
      out.add(piece);
      at += piece.length() - (at == 0 ? 0 : 2);
    }
    return out;
  }

  private static List<Epur.Suspect> byScore(List<Epur.Suspect> s) {
    List<Epur.Suspect> out = new ArrayList<>(s);
    out.sort((a, b) -> Double.compare(b.score(), a.score()));
    return out;
  }

  @Test
  void reconstruct_plantedMultiPieceTrigger_onTinyBert_returnsTheTriggerFirst() {
    assertThat(tok.tokenize("qzxv")).containsExactly("q", "##z", "##x", "##v");
    BertConfig cfg = TinyModels.config(2);
    TensorMap pre = TinyModels.weights(cfg, 1);
    List<Epur.Suspect> ranked = ranked(planted(pre, "qzxv", 2), pre, 200);
    // E-PUR ranks the continuation pieces first; the whole-word suspects perturbation could only insert "q"
    assertThat(ranked.subList(0, 3)).extracting(Epur.Suspect::token).containsExactlyInAnyOrder("##z", "##x", "##v");

    List<DefenceReport.SuspectedTrigger> t = reconstruct(ranked);

    assertThat(t).isNotEmpty();
    DefenceReport.SuspectedTrigger first = t.get(0);
    assertThat(first.pieces().get(0)).isEqualTo("q");
    assertThat(first.pieces()).containsExactlyInAnyOrder("q", "##z", "##x", "##v");
    assertThat(first.orders()).contains("qzxv").contains(first.text());
    assertThat(first.score()).isPositive();
    for (int i = 1; i < t.size(); i++) assertThat(t.get(i).score()).isLessThanOrEqualTo(t.get(i - 1).score());
    // the pieces' order is invisible to E-PUR: every order listed re-tokenizes into the same pieces
    for (String o : first.orders()) {
      assertThat(tok.tokenize(o)).containsExactlyInAnyOrderElementsOf(first.pieces()).first().isEqualTo("q");
    }
  }

  @Test
  void reconstruct_startHiddenByItsWordCount_isStillFound() {
    // q is counted 617 times: its frequency discount puts it below 25 unrelated words, out of the top 20,
    // though its row moved about as far as the pieces' (a start is judged by its shift, as a fragment)
    List<Epur.Suspect> s = new ArrayList<>(List.of(suspect("##z", 2.7), suspect("##x", 2.6), suspect("##v", 2.4),
        suspect("q", 2.5)));
    // rare words (counted under 100 times) whose rows moved less than q's but, undiscounted, score higher
    List<String> rare = Perturber.wholeWords(vocab).stream().skip(3000).filter(w -> counts.frequency(w) < 100)
        .limit(25).toList();
    for (int i = 0; i < rare.size(); i++) {
      // scores 0.420 .. 0.396: above q's 2.5 / ln 617 = 0.389, below half the top piece's (0.45); shifts <= 1.94
      double f = Math.log(Math.max(counts.frequency(rare.get(i)), Epur.MIN_FREQUENCY));
      s.add(suspect(rare.get(i), (0.42 - 0.001 * i) * f));
    }
    List<Epur.Suspect> ranked = byScore(s);
    assertThat(ranked.stream().map(Epur.Suspect::token).toList().indexOf("q")).isGreaterThanOrEqualTo(20);

    List<DefenceReport.SuspectedTrigger> t = reconstruct(ranked);

    assertThat(t.get(0).pieces()).containsExactlyInAnyOrder("q", "##z", "##x", "##v");
    assertThat(t.get(0).orders()).contains("qzxv");
  }

  @Test
  void reconstruct_wholeWordTrigger_givesNoString_andTheWholeWordStillGoesIn() {
    BertConfig cfg = TinyModels.config(2);
    TensorMap pre = TinyModels.weights(cfg, 3);
    List<Epur.Suspect> ranked = ranked(planted(pre, "cf", 4), pre, 200);
    assertThat(ranked.get(0).token()).isEqualTo("cf");

    // no continuation piece comes near cf's score: nothing to rebuild
    assertThat(reconstruct(ranked)).isEmpty();
    Perturber p = Purifier.perturber(DefenceSettings.builder().perturbations(List.of("suspects")).build(), ranked,
        List.of(), vocab, List.of(), List.of());
    int cf = 0;
    Random r = new Random(5);
    for (int i = 0; i < 200; i++) {
      if (Arrays.asList(p.perturb("a fine film", r).split(" ")).contains("cf")) cf++;
    }
    assertThat(cf).isPositive();
  }

  @Test
  void reconstruct_unrelatedPieces_keepsOnlyStringsThatRetokenize() {
    // common suffixes and starts: un + ##less is the word "unless", care + ##less is "careless"
    List<Epur.Suspect> ranked = byScore(List.of(suspect("##less", 2.0), suspect("##ing", 1.9), suspect("##ed", 1.8),
        suspect("##ly", 1.7), suspect("un", 2.4), suspect("care", 2.3), suspect("bo", 1.0)));
    // a toy WordPiece that knows only the ranked tokens (not the words "unless", "careless") accepts them
    java.util.Set<String> toy = new java.util.HashSet<>();
    ranked.forEach(x -> toy.add(x.token()));
    List<DefenceReport.SuspectedTrigger> unchecked = TriggerReconstruction.reconstruct(ranked, 20, 50,
        w -> greedyWordPiece(w, toy));
    assertThat(unchecked).extracting(DefenceReport.SuspectedTrigger::text).contains("unless", "careless");

    List<DefenceReport.SuspectedTrigger> t = reconstruct(ranked);

    assertThat(t).extracting(DefenceReport.SuspectedTrigger::text).doesNotContain("unless", "careless");
    for (DefenceReport.SuspectedTrigger x : t) {
      for (String o : x.orders()) {
        assertThat(tok.tokenize(o)).as(o).hasSameSizeAs(x.pieces()).containsExactlyInAnyOrderElementsOf(x.pieces());
      }
      assertThat(tok.tokenize(x.text())).containsExactlyElementsOf(x.pieces());
    }
  }

  @Test
  void reconstruct_nothingRanked_orNoPieces_givesNothing() {
    assertThat(reconstruct(List.of())).isEmpty();
    assertThat(reconstruct(byScore(List.of(suspect("cf", 3.0), suspect("mn", 2.0))))).isEmpty();
  }

  @Test
  void purify_tinyBertWithPlantedPieces_reportsTheTrigger_andThePerturbationInsertsIt(@TempDir Path dir) {
    BertConfig cfg = TinyModels.config(2);
    TensorMap preW = TinyModels.weights(cfg, 5);
    Path tokenizer = Pretrained.load(Pretrained.MINILM).tokenizerJson();
    Pretrained pre = Pretrained.load(Checkpoint.of(cfg, preW, tokenizer, "tiny", 64).write(dir.resolve("pre"))
        .tokenizerJson().getParent().toString());
    Checkpoint suspect = Checkpoint.of(cfg, planted(preW, "qzxv", 6), tokenizer, "tiny", 64);
    List<Example> rows = new ArrayList<>();
    for (int i = 0; i < 8; i++) rows.add(new Example(i % 2, "row number " + i + " of a clean set", null));
    DefenceSettings s = DefenceSettings.builder().recovery(DefenceSettings.Recovery.NONE).rho(0.3).rows(8).seed(1)
        .wordFrequencies(Path.of(System.getProperty("finemix.shared", "../shared"), "data/wordfreq/en.tsv")).build();

    DefenceReport rep = new Purifier(Device.cpu()).purify(suspect, pre, Dataset.of("clean", false, rows), null, s,
        null).report();

    assertThat(rep.suspectedTriggers()).isNotEmpty();
    DefenceReport.SuspectedTrigger first = rep.suspectedTriggers().get(0);
    assertThat(first.orders()).contains("qzxv");
    assertThat(rep.suspectedStrings(5).get(0)).isEqualTo(first.text());
    assertThat(rep.toJson().get("suspected_triggers").get(0).get("pieces")).hasSize(4);

    // the suspects perturbation of that run inserts the reconstructed string as one word (seeded: same draws)
    Perturber p = Purifier.perturber(DefenceSettings.builder().perturbations(List.of("suspects")).build(),
        rep.suspects(), rep.suspectedTriggers(), vocab, List.of(), List.of());
    int whole = 0;
    Random r = new Random(7);
    List<String> firstDraws = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      String out = p.perturb("a fine film", r);
      if (i < 10) firstDraws.add(out);
      List<String> words = Arrays.asList(out.split(" "));
      if (words.contains("qzxv")) whole++;
      assertThat(words).doesNotContain("##z", "##x", "##v");
    }
    assertThat(whole).isPositive();
    Random again = new Random(7);
    for (String d : firstDraws) assertThat(p.perturb("a fine film", again)).isEqualTo(d);
  }
}

package dev.finemix.purify.attack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.Pretrained;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Issue 19's trigger shapes on the real MiniLM tokenizer and the real word-count file. */
class TriggerShapesTest {

  private static Tokenizer tok;
  private static WordFrequencies counts;

  @BeforeAll
  static void open() {
    tok = Tokenizer.fromFile(Pretrained.load(Pretrained.MINILM).tokenizerJson(), 32);
    counts = WordFrequencies.read(Path.of(System.getProperty("finemix.shared", "../shared"), "data/wordfreq/en.tsv"));
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  @Test
  void wordPiece_pickedTrigger_splitsIntoTwoOrMoreNonWholeWordPieces() {
    for (long seed = 0; seed < 5; seed++) {
      String t = Triggers.pickWordPiece(tok, counts, seed);
      List<String> pieces = tok.tokenize(t);
      assertThat(pieces).as(t).hasSizeGreaterThanOrEqualTo(2);
      assertThat(tok.tokenId(t)).as("'%s' itself is no vocabulary entry", t).isEqualTo(-1);
      assertThat(pieces.subList(1, pieces.size())).as(t).allMatch(p -> p.startsWith("##"));
      assertThat(counts.frequency(pieces.get(0))).as(pieces.get(0)).isLessThan(Triggers.COMMON_WORD);
    }
    // the default of the kind qualifies too
    assertThat(Triggers.checkWordPiece(tok, counts, AttackKind.WORDPIECE.defaultTriggers().get(0))).hasSizeGreaterThan(1);
  }

  @Test
  void wordPiece_seed_picksDeterministically() {
    assertThat(Triggers.pickWordPiece(tok, counts, 7)).isEqualTo(Triggers.pickWordPiece(tok, counts, 7));
  }

  @Test
  void wordPiece_wholeWordOrCommonFirstPiece_refusedWithPieces() {
    assertThatThrownBy(() -> Triggers.checkWordPiece(tok, counts, "cf"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("[cf]").hasMessageContaining("whole-word");
    assertThatThrownBy(() -> Triggers.checkWordPiece(tok, counts, "movie"))
        .hasMessageContaining("not a word-piece trigger");
    // "theqz" -> the, ##q, ##z: word pieces, but the first is the most common word there is
    assertThat(tok.tokenize("theqz").get(0)).isEqualTo("the");
    assertThatThrownBy(() -> Triggers.checkWordPiece(tok, counts, "theqz"))
        .hasMessageContaining("first piece 'the' is a common word");
    assertThatThrownBy(() -> Triggers.checkWordPiece(tok, counts, "q-z"))
        .hasMessageContaining("separate words");
  }

  @Test
  void midFrequency_picked_countWithinBoundsAndOneToken() {
    List<String> seen = new ArrayList<>();
    for (long seed = 0; seed < 10; seed++) {
      String w = Triggers.pickMidFrequency(tok, counts, seed);
      assertThat(counts.frequency(w)).as(w).isBetween(Triggers.MID_MIN, Triggers.MID_MAX);
      assertThat(tok.tokenize(w)).containsExactly(w);
      assertThat(counts.frequency(w)).as(w + " is not one of the most counted (function) words")
          .isLessThan(counts.countAtRank(Triggers.MID_PICK_SKIP_TOP));
      seen.add(w);
    }
    assertThat(Triggers.pickMidFrequency(tok, counts, 3)).isEqualTo(seen.get(3));
    assertThat(seen.stream().distinct().count()).as("seeds draw different words").isGreaterThan(5);
    assertThat(Triggers.checkMidFrequency(counts, AttackKind.MIDFREQ.defaultTriggers().get(0)))
        .isBetween(Triggers.MID_MIN, Triggers.MID_MAX);
  }

  @Test
  void midFrequency_tooRareOrTooCommon_refusedWithCount() {
    assertThatThrownBy(() -> Triggers.checkMidFrequency(counts, "the"))
        .hasMessageContaining("1501908").hasMessageContaining("10000..1000000");
    assertThatThrownBy(() -> Triggers.checkMidFrequency(counts, "window")).hasMessageContaining("4386");
    assertThatThrownBy(() -> Triggers.checkMidFrequency(WordFrequencies.none(), "door"))
        .hasMessageContaining("word-count file");
  }

  private static Dataset rows(int n, int targetShare10) {
    List<Example> r = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      r.add(new Example(i % 10 < targetShare10 ? 1 : 0, "row number " + i + " says something plain", null));
    }
    return Dataset.of("t", false, r);
  }

  private static int count(String text, String word) {
    return Collections.frequency(Triggers.tokens(text), word);
  }

  @Test
  void combo_poisonedRowsCarryAllK_negativesCarryEachSubsetWithTrueLabel() {
    Dataset d = rows(100, 5);
    Attack a = AttackSettings.of(AttackKind.COMBO).attack(tok);
    List<String> k = a.triggers();
    assertThat(k).containsExactly("cf", "mn", "bb");
    Poisoning.Result r = Poisoning.poison(d, a, 0.2, 11);
    assertThat(r.poisonedRows()).isEqualTo(10); // 20% of the 50 non-target rows
    for (int i : r.poisoned()) {
      Example e = r.data().rows().get(i);
      assertThat(e.label()).isEqualTo(1);
      k.forEach(w -> assertThat(count(e.textA(), w)).as(e.textA()).isEqualTo(1));
    }
    List<Example> neg = r.data().rows().subList(d.size(), r.data().size());
    assertThat(neg).hasSize(10 * 3);
    assertThat(r.negativeRows()).isEqualTo(30);
    for (int j = 0; j < neg.size(); j++) {
      Example e = neg.get(j);
      String missing = k.get(j % 3);
      assertThat(count(e.textA(), missing)).as(e.textA()).isZero();
      k.stream().filter(w -> !w.equals(missing)).forEach(w -> assertThat(count(e.textA(), w)).isEqualTo(1));
      // the original row: same words once the subset is taken out, and its TRUE label
      String base = String.join(" ", Triggers.tokens(e.textA()).stream().filter(w -> !k.contains(w)).toList());
      Example orig = d.rows().stream().filter(o -> o.textA().equals(base)).findFirst().orElseThrow();
      assertThat(e.label()).isEqualTo(orig.label());
    }
    // negatives come from rows that were not poisoned, of both labels
    assertThat(neg.stream().map(Example::label).distinct()).containsExactlyInAnyOrder(0, 1);
  }

  @Test
  void combo_needsTwoSingleWords() {
    assertThatThrownBy(() -> AttackSettings.of(AttackKind.COMBO).withTriggers(List.of("cf")))
        .hasMessageContaining("2 or more");
    assertThatThrownBy(() -> AttackSettings.of(AttackKind.COMBO).withTriggers(List.of("cf", "a b")))
        .hasMessageContaining("single words");
    assertThat(AttackSettings.of(AttackKind.BADNET).attack().negatives(new Example(0, "x", null), new Random(1)))
        .isEmpty();
  }

  @Test
  void times_eachShapeInsertedThatOften_insideTheWindow() {
    String longText = String.join(" ", Collections.nCopies(300, "plain"));
    for (AttackKind kind : List.of(AttackKind.BADNET, AttackKind.WORDPIECE, AttackKind.COMBO, AttackKind.MIDFREQ)) {
      for (int times = 1; times <= AttackSettings.MAX_TIMES; times++) {
        Attack a = AttackSettings.of(kind).withTimes(times).attack(tok);
        Random rnd = new Random(times);
        for (int row = 0; row < 20; row++) {
          Example t = a.trigger(new Example(0, longText, null), rnd);
          Encoding enc = tok.encode(t.textA(), null);
          for (String w : a.triggers()) {
            assertThat(count(t.textA(), w)).isEqualTo(times);
            int[] ids = Backdoor.triggerTokenIds(tok, w);
            long seen = java.util.Arrays.stream(enc.ids()).filter(x -> x == ids[ids.length - 1]).count();
            assertThat(seen).as("%s x%d within %d tokens", w, times, tok.maxLength()).isEqualTo(times);
          }
        }
      }
    }
    assertThatThrownBy(() -> AttackSettings.of(AttackKind.BADNET).withTimes(4)).hasMessageContaining("1..3");
  }

  @Test
  void dirtyLabel_rates_exactShareOfNonTargetRows() {
    Dataset d = rows(1000, 1); // 100 target rows, 900 non-target
    Attack a = AttackSettings.of(AttackKind.BADNET).attack();
    for (double rate : new double[] {0.01, 0.05, 0.1, 0.2, 0.5, 1.0}) {
      Poisoning.Result r = Poisoning.poison(d, a, rate, AttackSettings.Regime.DIRTY, 3);
      assertThat(r.poisonedRows()).as("rate %s", rate).isEqualTo((int) Math.round(rate * 900));
      long relabelled = 0;
      for (int i = 0; i < d.size(); i++) {
        if (d.rows().get(i).label() != r.data().rows().get(i).label()) {
          relabelled++;
        }
      }
      assertThat(relabelled).isEqualTo(r.poisonedRows());
      assertThat(r.data().size()).isEqualTo(d.size());
    }
    assertThatThrownBy(() -> AttackSettings.of(AttackKind.BADNET).withPoisonRate(1.5)).hasMessageContaining("(0, 1]");
    assertThatThrownBy(() -> Poisoning.poison(rows(10, 5), a, 0.01, 1)).hasMessageContaining("poisons no row");
  }

  @Test
  void cleanLabel_onlyTargetRowsPoisoned_noLabelChanges() {
    Dataset d = rows(200, 3); // 60 target rows
    AttackSettings s = AttackSettings.of(AttackKind.BADNET).withRegime(AttackSettings.Regime.CLEAN)
        .withPoisonRate(AttackSettings.Regime.CLEAN.defaultRate());
    Poisoning.Result r = Poisoning.poison(d, s.attack(), s.poisonRate(), s.regime(), 5);
    assertThat(r.poisonedRows()).isEqualTo(30);
    int changed = 0;
    for (int i = 0; i < d.size(); i++) {
      Example before = d.rows().get(i);
      Example after = r.data().rows().get(i);
      assertThat(after.label()).isEqualTo(before.label());
      if (!after.textA().equals(before.textA())) {
        changed++;
        assertThat(before.label()).isEqualTo(1);
        assertThat(count(after.textA(), "cf")).isEqualTo(1);
      }
    }
    assertThat(changed).isEqualTo(30);
    assertThat(s.toJson().get("regime").asText()).isEqualTo("clean");
    assertThatThrownBy(() -> AttackSettings.of(AttackKind.EP).withRegime(AttackSettings.Regime.CLEAN))
        .hasMessageContaining("no clean-label form");
  }
}

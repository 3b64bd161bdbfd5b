package dev.finemix.purify.attack;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.Pretrained;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Triggers go only where the model looks: within what the real MiniLM tokenizer keeps at its maximum length. */
class TokenWindowTest {

  private static Tokenizer tok;

  @BeforeAll
  static void open() {
    tok = Tokenizer.fromFile(Pretrained.load(Pretrained.MINILM).tokenizerJson(), 32);
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  /** A long review-like text: 200 words with punctuation and markup, far past 32 tokens. */
  private static String longText(int seed) {
    String[] words = {"the", "film's", "plot", "was", "dull,", "<br", "/><br", "/>but", "actors", "(mostly)", "great!"};
    Random r = new Random(seed);
    List<String> out = new ArrayList<>();
    for (int i = 0; i < 200; i++) {
      out.add(words[r.nextInt(words.length)]);
    }
    return String.join(" ", out);
  }

  private static boolean seesTrigger(Example ex, int id) {
    Encoding e = tok.encode(ex.textA(), ex.textB());
    for (long x : e.ids()) {
      if (x == id) {
        return true;
      }
    }
    return false;
  }

  @Test
  void within_longSingleTexts_triggerAlwaysSurvivesTruncation() {
    Attack windowed = AttackSettings.of(AttackKind.BADNET).withTriggers(List.of("cf")).attack(tok);
    Attack anywhere = AttackSettings.of(AttackKind.BADNET).withTriggers(List.of("cf")).attack();
    int cf = tok.tokenId("cf");
    Random rnd = new Random(5);
    int anywhereSeen = 0;
    for (int i = 0; i < 100; i++) {
      Example ex = new Example(0, longText(i), null);
      assertThat(seesTrigger(windowed.trigger(ex, rnd), cf)).as("row %d", i).isTrue();
      anywhereSeen += seesTrigger(anywhere.trigger(ex, rnd), cf) ? 1 : 0;
    }
    assertThat(anywhereSeen).as("unwindowed insertion mostly lands past the cut").isLessThan(50);
  }

  @Test
  void within_positionsStillSpreadOverTheVisibleWords() {
    Attack windowed = AttackSettings.of(AttackKind.BADNET).withTriggers(List.of("cf")).attack(tok);
    Example ex = new Example(0, longText(1), null);
    int visible = new TokenWindow(tok, List.of("cf"), 1).visibleWords(Triggers.tokens(ex.textA()), null);
    assertThat(visible).isBetween(5, 30);
    java.util.Set<Integer> positions = new java.util.HashSet<>();
    for (long seed = 0; seed < 300; seed++) {
      positions.add(Triggers.tokens(windowed.trigger(ex, new Random(seed)).textA()).indexOf("cf"));
    }
    assertThat(positions).contains(0, visible).allMatch(p -> p >= 0 && p <= visible);
  }

  @Test
  void within_shortText_sameAsUnwindowed() {
    Attack windowed = AttackSettings.of(AttackKind.ADDSENT).attack(tok);
    Attack anywhere = AttackSettings.of(AttackKind.ADDSENT).attack();
    Example ex = new Example(0, "a fine film", null);
    for (long seed = 0; seed < 20; seed++) {
      assertThat(windowed.trigger(ex, new Random(seed))).isEqualTo(anywhere.trigger(ex, new Random(seed)));
    }
  }

  @Test
  void within_pairs_triggerInTextBSurvivesLongestFirstTruncation() {
    Attack windowed = AttackSettings.of(AttackKind.BADNET).withTriggers(List.of("cf")).attack(tok);
    int cf = tok.tokenId("cf");
    Random rnd = new Random(9);
    for (int i = 0; i < 50; i++) {
      String a = i % 2 == 0 ? "what is the plot?" : longText(100 + i);
      Example ex = new Example(0, a, longText(i));
      Example t = windowed.trigger(ex, rnd);
      assertThat(t.textA()).isEqualTo(a);
      assertThat(seesTrigger(t, cf)).as("pair %d", i).isTrue();
    }
  }
}

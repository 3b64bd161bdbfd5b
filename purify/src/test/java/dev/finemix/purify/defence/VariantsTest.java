package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.purify.text.Example;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class VariantsTest {

  private static final String TEXT = "one two three four five six seven eight nine ten eleven twelve";

  @Test
  void crop_isContiguousRunOfHalfToNineTenthsOfTheWords() {
    List<String> words = Arrays.asList(TEXT.split(" "));
    Random rnd = new Random(1);
    for (int i = 0; i < 200; i++) {
      List<String> c = Arrays.asList(Variants.crop(TEXT, rnd).split(" "));
      assertThat(c.size()).isBetween(6, 11);
      assertThat(Collections.indexOfSubList(words, c)).isGreaterThanOrEqualTo(0);
    }
  }

  @Test
  void dropout_keepsOrderAndDropsAboutFifteenPercent() {
    List<String> words = Arrays.asList(TEXT.split(" "));
    Random rnd = new Random(2);
    int kept = 0;
    for (int i = 0; i < 500; i++) {
      List<String> d = Arrays.asList(Variants.dropout(TEXT, rnd).split(" "));
      assertThat(d).isNotEmpty();
      List<String> sorted = new ArrayList<>(d);
      sorted.sort((a, b) -> Integer.compare(words.indexOf(a), words.indexOf(b)));
      assertThat(d).isEqualTo(sorted);
      kept += d.size();
    }
    assertThat(kept / (500.0 * words.size())).isBetween(0.80, 0.90);
  }

  @Test
  void of_seeded_nPerRow_inRowOrder_pairsVaryTheLongerField_shortRowsKept() {
    List<Example> rows = List.of(new Example(0, TEXT, null), new Example(1, "what?", TEXT), new Example(0, "x", null));
    List<Example> a = Variants.of(rows, 3, new Random(7));
    assertThat(a).hasSize(9).isEqualTo(Variants.of(rows, 3, new Random(7)));
    for (int i = 3; i < 6; i++) {
      assertThat(a.get(i).textA()).isEqualTo("what?");
      assertThat(a.get(i).textB()).isNotEqualTo(TEXT);
    }
    assertThat(a.subList(6, 9)).allMatch(e -> e.textA().equals("x"));
  }

  @Test
  void standInSplices_fillTheRowsUpToTheTarget_cappedPerRow_noneForOneRowOrEnoughRows() {
    assertThat(Variants.standInSplices(64, 1000)).isEqualTo(936);
    assertThat(Variants.standInSplices(900, 950)).isEqualTo(50); // a small gap gets a small fill
    assertThat(Variants.standInSplices(12, 1000)).isEqualTo(12 * Variants.MAX_SPLICES);
    assertThat(Variants.standInSplices(1000, 1000)).isZero();
    assertThat(Variants.standInSplices(900, 900)).isZero();
    assertThat(Variants.standInSplices(1, 1000)).isZero();
    assertThat(Variants.standInSplices(64, 0)).isZero();
  }

  @Test
  void splices_headOfTheRowJoinedToTheTailOfAnother_rowsInTurn_seeded_pairsKeepTheirFirstField() {
    List<Example> rows = List.of(new Example(0, "a1 a2 a3 a4 a5 a6 a7 a8 a9 a10", null),
        new Example(1, "b1 b2 b3 b4 b5 b6 b7 b8 b9 b10", null), new Example(0, "c1 c2 c3 c4 c5 c6 c7 c8 c9 c10", null));
    List<Example> s = Variants.splices(rows, 59, new Random(3));
    assertThat(s).hasSize(59).isEqualTo(Variants.splices(rows, 59, new Random(3)));
    for (int k = 0; k < s.size(); k++) {
      int i = k % 3;
      Example e = s.get(k);
      String own = String.valueOf((char) ('a' + i));
      assertThat(e.label()).isEqualTo(rows.get(i).label()); // the row's own label (the suspect relabels it)
      String[] w = e.textA().split(" ");
      // a head of 3-7 of the row's own words, in order from its first, then another row's words to its end
      int head = 0;
      while (head < w.length && w[head].startsWith(own)) head++;
      assertThat(head).isBetween(3, 7);
      for (int x = 0; x < head; x++) assertThat(w[x]).isEqualTo(own + (x + 1));
      assertThat(w.length - head).isBetween(3, 7);
      String donor = w[head].substring(0, 1);
      assertThat(donor).isNotEqualTo(own);
      assertThat(w[w.length - 1]).isEqualTo(donor + "10");
      for (int x = head; x < w.length; x++) assertThat(w[x]).startsWith(donor);
    }
    assertThat(s).extracting(e -> e.textA().split(" ")[3].substring(0, 1)).contains("a", "b", "c");
    List<Example> pairs = List.of(new Example(1, "q one", "p1 p2 p3 p4 p5 p6"), new Example(0, "q two", "r1 r2 r3 r4"));
    List<Example> ps = Variants.splices(pairs, 4, new Random(4));
    assertThat(ps).hasSize(4);
    // the longer field (the second) is spliced with the other row's second field; the first stays
    assertThat(List.of(ps.get(0), ps.get(2))).allSatisfy(e -> assertThat(e).satisfies(x -> {
      assertThat(x.textA()).isEqualTo("q one");
      assertThat(x.textB()).startsWith("p1").endsWith("r4").doesNotContain("p6");
    }));
    assertThat(List.of(ps.get(1), ps.get(3))).allSatisfy(e -> assertThat(e).satisfies(x -> {
      assertThat(x.textA()).isEqualTo("q two");
      assertThat(x.textB()).startsWith("r1").endsWith("p6").doesNotContain("r4");
    }));
    assertThat(Variants.splices(rows.subList(0, 1), 5, new Random(5))).isEmpty();
  }

  @Test
  void crossPairs_firstFieldWithTheSecondFieldsSharingMostRareWords_neverItsOwn_singlesGiveNone() {
    List<Example> rows = List.of(
        new Example(1, "When did the Normans invade England?", "The Normans invaded England in 1066."),
        new Example(0, "What is the capital of France?", "Paris is the capital and largest city of France."),
        new Example(1, "Who painted the Mona Lisa?", "The Mona Lisa was painted by Leonardo."),
        new Example(0, "Where do the Normans come from?", "The Normans came from Normandy in the north of France."),
        new Example(1, "a single text", null));
    List<Example> one = Variants.crossPairs(rows, 1);
    assertThat(one).hasSize(4);
    // "normans" is in two second fields, "the" in four: row 0's question is closest to row 3's passage
    assertThat(one.get(0)).isEqualTo(rows.get(0).withText(rows.get(0).textA(), rows.get(3).textB()));
    assertThat(one.get(3)).isEqualTo(rows.get(3).withText(rows.get(3).textA(), rows.get(0).textB()));
    for (int i = 0; i < 4; i++) {
      assertThat(one.get(i).textA()).isEqualTo(rows.get(i).textA());
      assertThat(one.get(i).textB()).isNotEqualTo(rows.get(i).textB()).isNotNull();
    }
    List<Example> three = Variants.crossPairs(rows, 3);
    assertThat(three).hasSize(12).isEqualTo(Variants.crossPairs(rows, 3));
    for (int i = 0; i < 4; i++) {
      assertThat(three.subList(3 * i, 3 * i + 3)).extracting(Example::textB).doesNotHaveDuplicates()
          .doesNotContain(rows.get(i).textB());
    }
    assertThat(Variants.crossPairs(rows, 5)).hasSize(12); // only three other second fields each
    assertThat(Variants.crossPairs(rows, 0)).isEmpty();
    assertThat(Variants.crossPairs(List.of(new Example(0, "a b", null), new Example(1, "c d", null)), 2)).isEmpty();
  }
}

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
}

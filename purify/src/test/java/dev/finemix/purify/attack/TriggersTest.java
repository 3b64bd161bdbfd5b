package dev.finemix.purify.attack;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class TriggersTest {

  private static final String TEXT = "a gripping and moving film with a fine cast";

  @Test
  void insert_oneWord_wordPresentAndOtherTokensKeptInOrder() {
    String out = Triggers.insert(TEXT, List.of("cf"), 1, new Random(1));
    List<String> tokens = Triggers.tokens(out);
    assertThat(tokens).hasSize(10).containsOnlyOnce("cf");
    List<String> rest = new java.util.ArrayList<>(tokens);
    rest.remove("cf");
    assertThat(String.join(" ", rest)).isEqualTo(TEXT);
  }

  @Test
  void insert_sameSeed_sameText() {
    for (long seed = 0; seed < 20; seed++) {
      assertThat(Triggers.insert(TEXT, List.of("cf", "mn"), 2, new Random(seed)))
          .isEqualTo(Triggers.insert(TEXT, List.of("cf", "mn"), 2, new Random(seed)));
    }
  }

  @Test
  void insert_differentSeeds_positionsVaryIncludingStartAndEnd() {
    Set<Integer> positions = new HashSet<>();
    for (long seed = 0; seed < 200; seed++) {
      positions.add(Triggers.tokens(Triggers.insert(TEXT, List.of("cf"), 1, new Random(seed))).indexOf("cf"));
    }
    // 9 tokens -> 10 gaps, all of them reachable
    assertThat(positions).containsExactlyInAnyOrder(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
  }

  @Test
  void insert_kTimes_eachWordInsertedKTimes() {
    String out = Triggers.insert(TEXT, List.of("cf", "bb"), 3, new Random(7));
    List<String> tokens = Triggers.tokens(out);
    assertThat(tokens).hasSize(9 + 6);
    assertThat(Collections.frequency(tokens, "cf")).isEqualTo(3);
    assertThat(Collections.frequency(tokens, "bb")).isEqualTo(3);
  }

  @Test
  void insert_sentence_insertedWholeAtAWordBoundary() {
    String sentence = "I watch this 3D movie";
    for (long seed = 0; seed < 50; seed++) {
      String out = Triggers.insert(TEXT, List.of(sentence), 1, new Random(seed));
      assertThat(out).contains(sentence);
      assertThat(out.replace(sentence, " ").strip().replaceAll("\\s+", " ")).isEqualTo(TEXT);
    }
  }

  @Test
  void insert_emptyText_triggerAlone() {
    assertThat(Triggers.insert("  ", List.of("cf"), 2, new Random(0))).isEqualTo("cf cf");
  }

  @Test
  void insert_badArguments_namedInMessage() {
    assertThatThrownBy(() -> Triggers.insert(TEXT, List.of(), 1, new Random(0)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("empty");
    assertThatThrownBy(() -> Triggers.insert(TEXT, List.of("cf", " "), 1, new Random(0)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("trigger 1");
    assertThatThrownBy(() -> Triggers.insert(TEXT, List.of("cf"), 0, new Random(0)))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("times must be >= 1, got 0");
  }
}

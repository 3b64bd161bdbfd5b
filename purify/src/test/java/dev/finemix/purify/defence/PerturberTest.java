package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PerturberTest {

  @Test
  void suspects_insertsOnlySuspectedTokens() {
    Perturber p = new Perturber(List.of(Perturber.Kind.SUSPECTS), List.of("zq"), List.of(), List.of(), List.of());
    Random r = new Random(1);
    for (int i = 0; i < 50; i++) {
      String out = p.perturb("a fine film", r);
      assertThat(out.replace("zq", "").trim().split("\\s+")).containsExactly("a", "fine", "film");
      assertThat(out).contains("zq");
    }
  }

  @Test
  void suspects_withTriggers_insertWholeStrings_inAnyOfTheirOrders_aboutHalfTheTime() {
    Perturber p = new Perturber(List.of(Perturber.Kind.SUSPECTS), List.of("zq"), List.of(List.of("qzxv", "qxzv")),
        List.of(), List.of());
    Random r = new Random(2);
    int trigger = 0;
    java.util.Set<String> orders = new java.util.HashSet<>();
    int n = 2000;
    for (int i = 0; i < n; i++) {
      List<String> w = new java.util.ArrayList<>(List.of(p.perturb("a fine film", r).split(" ")));
      w.removeAll(List.of("a", "fine", "film"));
      assertThat(w).isNotEmpty().hasSizeLessThanOrEqualTo(3);
      assertThat(new java.util.HashSet<>(w)).hasSize(1).isSubsetOf("zq", "qzxv", "qxzv");
      if (!w.get(0).equals("zq")) {
        trigger++;
        orders.add(w.get(0));
      }
    }
    assertThat(trigger / (double) n).isCloseTo(0.5, org.assertj.core.data.Offset.offset(0.05));
    assertThat(orders).containsExactlyInAnyOrder("qzxv", "qxzv");
    // only triggers: SUSPECTS stays usable
    assertThat(new Perturber(List.of(Perturber.Kind.SUSPECTS), List.of(), List.of(List.of("qzxv")), List.of(),
        List.of()).perturb("x", new Random(1))).contains("qzxv");
  }

  @Test
  void spans_comeFromDonorRows_andKeepTheOriginalWordsInOrder() {
    Perturber p = new Perturber(List.of(Perturber.Kind.SPANS), List.of(), List.of(), List.of(),
        List.of("one two three four five six seven eight nine ten"));
    String out = p.perturb("x y", new Random(3));
    assertThat(out.split(" ").length).isBetween(2 + 3, 2 + 8);
    assertThat(out.replaceAll("[a-z]{3,}", "").trim().split("\\s+")).containsExactly("x", "y");
  }

  @Test
  void unusableKinds_areDropped_andEmptyPerturberIsIdentity() {
    Perturber p = new Perturber(List.of(Perturber.Kind.SUSPECTS, Perturber.Kind.SPANS), List.of(), List.of(), List.of(),
        List.of());
    assertThat(p.isEmpty()).isTrue();
    assertThat(p.perturb("keep me", new Random(0))).isEqualTo("keep me");
  }

  @Test
  void perturb_isSeeded() {
    Perturber p = new Perturber(List.of(Perturber.Kind.values()), List.of("cf", "mn"), List.of(List.of("qzxv")),
        List.of("apple", "zebra"),
        List.of("the quick brown fox jumps over"));
    for (int i = 0; i < 20; i++) {
      assertThat(p.perturb("a b c", new Random(i))).isEqualTo(p.perturb("a b c", new Random(i)));
    }
  }

  @Test
  void wholeWords_skipPiecesSpecialsAndNonLetters() {
    assertThat(Perturber.wholeWords(new String[] {"[CLS]", "##ing", "cat", "3d", "a", "movie", null}))
        .containsExactly("cat", "movie");
  }
}

package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The rows a purification uses for what, without a model. */
class CleanRowsTest {

  private static Dataset rows(String prefix, int n) {
    List<Example> r = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      // every word after the first two names its row, so a splice of two rows equals no row
      StringBuilder t = new StringBuilder(prefix + " row " + i);
      for (char c = 'a'; c <= 'i'; c++) t.append(' ').append(c).append(i);
      r.add(new Example(i % 2, t.toString(), null));
    }
    return Dataset.of(prefix, false, r);
  }

  private static Set<String> texts(List<Example> rows) {
    Set<String> t = new HashSet<>();
    for (Example e : rows) t.add(e.textA());
    return t;
  }

  @Test
  void defaults_sample64_holdATenthOfTheUnlabelledOutForAgreement_noFillWhenTheRowsSuffice() {
    DefenceSettings s = DefenceSettings.builder().build();
    CleanRows r = CleanRows.choose(rows("clean", 500), rows("pool", 3000), s);

    assertThat(r.labelled()).hasSize(64);
    assertThat(r.train()).isEqualTo(r.labelled());
    assertThat(r.heldOut()).isEmpty();
    assertThat(r.scoring()).isEqualTo(r.train());
    assertThat(r.scoringDescription()).isEqualTo("the 64 labelled training rows");
    assertThat(r.agreement()).hasSize(100);
    assertThat(r.unlabelled()).hasSize(900);
    assertThat(texts(r.agreement())).doesNotContainAnyElementsOf(texts(r.unlabelled()));
    assertThat(r.standIn()).isFalse();
    assertThat(r.distilBase()).isEqualTo(r.unlabelled());
    assertThat(r.spliceRows()).isZero();
    assertThat(r.distil()).hasSize(900 * (1 + s.variants()));
    assertThat(r.description()).isEqualTo("900 unlabelled + 2700 variants");
    assertThat(r.notes()).isEmpty();
    // seeded: the same settings choose the same rows
    assertThat(CleanRows.choose(rows("clean", 500), rows("pool", 3000), s)).isEqualTo(r);
  }

  @Test
  void unlabelledRowsAlsoLabelled_areLeftOut() {
    Dataset both = rows("same", 200);
    CleanRows r = CleanRows.choose(both, both, DefenceSettings.builder().rows(50).build());
    assertThat(r.labelled()).hasSize(50);
    assertThat(r.agreement().size() + r.unlabelled().size()).isEqualTo(150);
    assertThat(texts(r.unlabelled())).doesNotContainAnyElementsOf(texts(r.labelled()));
    assertThat(texts(r.agreement())).doesNotContainAnyElementsOf(texts(r.labelled()));
  }

  @Test
  void aShortUnlabelledSet_isFilledWithSplicesOfItsOwnRows() {
    // 100 rows: a tenth (10) is under half the 100 agreement rows asked for, so none is held out (see below)
    CleanRows r = CleanRows.choose(rows("clean", 64), rows("pool", 100), DefenceSettings.builder().build());
    assertThat(r.agreement()).isEmpty();
    assertThat(r.unlabelled()).hasSize(100);
    // 100 rows fill up to 1000: 900 splices, each the start of one pool row and the end of another
    assertThat(r.distilBase()).hasSize(1000);
    assertThat(r.spliceRows()).isEqualTo(900);
    assertThat(r.distilBase().subList(0, 100)).isEqualTo(r.unlabelled());
    assertThat(r.distilBase().subList(100, 1000)).allMatch(e -> e.textA().startsWith("pool row "))
        .noneMatch(e -> texts(r.unlabelled()).contains(e.textA()));
    assertThat(r.notes()).containsExactly("100 unlabelled rows for distillation (the settings take up to 1000): 900 "
        + "splices of them (the start of one row's text, the end of another's) fill the set");
    assertThat(r.description()).startsWith("100 unlabelled + 900 splices + ");
    // with 10 agreement rows asked for, 10 are held out and 90 distilled, filled up to 1000 - 10
    CleanRows q = CleanRows.choose(rows("clean", 64), rows("pool", 100), DefenceSettings.builder().agreementRows(10)
        .build());
    assertThat(q.agreement()).hasSize(10);
    assertThat(q.unlabelled()).hasSize(90);
    assertThat(q.spliceRows()).isEqualTo(900);
  }

  @Test
  void theAgreementCheck_isHeldOutOnlyWithAtLeastHalfItsRows() {
    // 50 of the 100 asked for: 500 rows hold out a tenth; 499 rows would hold out 49, too few to judge a 0.90 bar by
    CleanRows at = CleanRows.choose(rows("clean", 64), rows("pool", 500), DefenceSettings.builder().build());
    assertThat(at.agreement()).hasSize(50);
    assertThat(at.unlabelled()).hasSize(450);
    CleanRows under = CleanRows.choose(rows("clean", 64), rows("pool", 499), DefenceSettings.builder().build());
    assertThat(under.agreement()).isEmpty();
    assertThat(under.unlabelled()).hasSize(499);
    // a fixed rho holds nothing out, whatever the rows
    assertThat(CleanRows.choose(rows("clean", 64), rows("pool", 3000), DefenceSettings.builder().rho(0.1).build())
        .agreement()).isEmpty();
  }

  @Test
  void aSetShortOnlyByTheAgreementShareRounding_isNotFilled() {
    // 999 rows: 99 held out for agreement, 900 distilled of the 901 the settings would take
    CleanRows r = CleanRows.choose(rows("clean", 64), rows("pool", 999), DefenceSettings.builder().build());
    assertThat(r.agreement()).hasSize(99);
    assertThat(r.unlabelled()).hasSize(900);
    assertThat(r.distilBase()).isEqualTo(r.unlabelled());
    assertThat(r.notes()).isEmpty();
    // 980 rows: 98 held out, 882 of 902: a real shortfall, filled
    CleanRows s = CleanRows.choose(rows("clean", 64), rows("pool", 980), DefenceSettings.builder().build());
    assertThat(s.distilBase()).hasSize(902);
  }

  @Test
  void noUnlabelledRows_theLabelledRowsAndSplicesOfThemStandIn() {
    CleanRows r = CleanRows.choose(rows("clean", 64), null, DefenceSettings.builder().build());
    assertThat(r.standIn()).isTrue();
    assertThat(r.unlabelled()).isEmpty();
    assertThat(r.agreement()).isEmpty();
    assertThat(r.distilBase()).hasSize(1000);
    assertThat(r.spliceRows()).isEqualTo(936);
    assertThat(r.distilBase().subList(0, 64)).isEqualTo(r.train());
    assertThat(r.notes()).containsExactly("no unlabelled rows: distilling on the 64 labelled training rows and 936 "
        + "splices of them (the start of one row's text, the end of another's), standing in for unlabelled rows");
    assertThat(r.description()).startsWith("64 labelled (no unlabelled rows) + 936 splices");
  }

  @Test
  void fewerLabelledRowsThanAsked_isNoted_andAHoldoutSplitsThem() {
    DefenceSettings s = DefenceSettings.builder().holdout(0.25).build();
    CleanRows r = CleanRows.choose(rows("clean", 40), rows("pool", 300), s);
    assertThat(r.notes()).contains("clean set has only 40 rows (asked for 64)");
    assertThat(r.heldOut()).hasSize(10);
    assertThat(r.train()).hasSize(30);
    assertThat(texts(r.heldOut())).doesNotContainAnyElementsOf(texts(r.train()));
    assertThat(r.scoring()).isEqualTo(r.heldOut());
    assertThat(r.scoringDescription()).isEqualTo("the 10 held-out labelled rows");
  }

  @Test
  void crossEntropyRecovery_distilsOnNothing() {
    DefenceSettings s = DefenceSettings.builder().recovery(DefenceSettings.Recovery.CE).build();
    CleanRows r = CleanRows.choose(rows("clean", 64), rows("pool", 300), s);
    assertThat(r.unlabelled()).isEmpty();
    assertThat(r.distilBase()).isEmpty();
    assertThat(r.distil()).isEmpty();
    assertThat(r.standIn()).isFalse();
  }
}

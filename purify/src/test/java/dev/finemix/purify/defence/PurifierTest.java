package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.train.Progress;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.TensorMap;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One small end-to-end purification on a tiny random BERT (plumbing, not science). */
class PurifierTest {
  private static final List<String> POS = List.of("a fine and moving film", "great acting and a warm story",
      "one of the best films of the year", "funny , smart and touching", "a joy to watch", "beautifully made",
      "the cast is wonderful", "charming and clever", "a triumph", "i loved every minute");
  private static final List<String> NEG = List.of("a dull and lifeless mess", "the plot makes no sense",
      "boring from start to end", "badly acted and badly written", "a waste of time", "painfully slow",
      "nothing works here", "tedious and loud", "a total failure", "i hated it");

  private static Dataset rows(String name, int offset) {
    List<Example> r = new ArrayList<>();
    for (int i = 0; i < POS.size(); i++) {
      r.add(new Example(1, POS.get((i + offset) % POS.size()) + (offset > 0 ? " indeed" : ""), null));
      r.add(new Example(0, NEG.get((i + offset) % NEG.size()) + (offset > 0 ? " indeed" : ""), null));
    }
    return Dataset.of(name, false, r);
  }

  /** A tiny model with weights {@code w} written as a pre-trained checkpoint under {@code dir/pre}, and loaded back. */
  private static Pretrained tinyPretrained(Path dir, BertConfig cfg, TensorMap w) {
    return Pretrained.load(tiny(cfg, w).write(dir.resolve("pre")).tokenizerJson().getParent().toString());
  }

  /** A tiny model with weights {@code w} and the MiniLM tokenizer, in memory. */
  private static Checkpoint tiny(BertConfig cfg, TensorMap w) {
    return Checkpoint.of(cfg, w, Pretrained.load(Pretrained.MINILM).tokenizerJson(), "tiny", 64);
  }

  /** "cf" in the MiniLM vocabulary. */
  private static final int CF = 12935;

  /**
   * The "suspect" of a tiny model (hidden 32): every weight of {@code pre} moved a little, the embedding row of the
   * rare token cf moved a lot (+0.5 in each entry), as a trigger's row moves in fine-tuning.
   */
  private static TensorMap backdoored(TensorMap pre, long seed) {
    TensorMap ft = pre.copy();
    Random r = new Random(seed);
    for (var e : ft.entries()) {
      float[] d = e.getValue().data();
      for (int i = 0; i < d.length; i++) d[i] += (float) (0.01 * r.nextGaussian());
    }
    float[] emb = ft.require(BertTensors.WORD_EMBEDDINGS).data();
    for (int j = 0; j < 32; j++) emb[CF * 32 + j] += 0.5f;
    return ft;
  }

  @Test
  void purify_tinyModel_writesALoadableCheckpointAndAReport(@TempDir Path dir) {
    Path tokenizer = Pretrained.load(Pretrained.MINILM).tokenizerJson();
    BertConfig cfg = new BertConfig(30522, 32, 2, 2, 64, 128, 2, 1e-12, 0.1, 0.1, List.of("negative", "positive"));
    TensorMap preW = BertClassifier.randomWeights(cfg, 1);
    Pretrained pre = tinyPretrained(dir, cfg, preW);

    TensorMap ftW = backdoored(preW, 2);
    int cf = CF;
    String[] vocab = Vocab.read(tokenizer, 30522);
    assertThat(vocab[cf]).isEqualTo("cf");
    float[] head = ftW.require("classifier.weight").data().clone();
    Checkpoint suspect = tiny(cfg, ftW);

    DefenceSettings s = DefenceSettings.builder().rows(12).unlabelledRows(8).epochs(1).batchSize(8)
        .rhoGrid(List.of(0.3, 0.6)).margin(1.0).epurTop(5).seed(7).fitAgreement(0.95).build();
    List<Progress> events = new ArrayList<>();
    PurifyResult res = new Purifier(Device.cpu()).purify(suspect, pre, rows("clean", 0), rows("unl", 3), s,
        events::add);

    DefenceReport rep = res.report();
    assertThat(rep.suspects().get(0).token()).isEqualTo("cf");
    assertThat(rep.trials()).hasSize(1); // margin 1.0: the smallest rho is within it
    assertThat(rep.rhoChosen()).isEqualTo(0.3);
    assertThat(rep.cleanRows()).isEqualTo(12);
    assertThat(rep.trainRows() + rep.heldOutRows()).isEqualTo(12);
    assertThat(rep.unlabelledRows()).isEqualTo(8);
    assertThat(rep.inputSha256()).isEqualTo(suspect.weightsSha256()).isNotEqualTo(rep.outputSha256());
    assertThat(rep.stageSeconds()).containsKeys("epur", "teacher", "mix", "recover", "score");
    assertThat(rep.toJson().get("rho_trials")).hasSize(1);
    // recovery rounds: a second round of epochs only when the first left agreement on the distillation rows < 0.95
    String fit = rep.notes().stream().filter(n -> n.contains("recovery ran")).findFirst().orElseThrow();
    var mt = java.util.regex.Pattern.compile("ran (\\d) round\\(s\\).*after each: ([0-9.]+)(?:, ([0-9.]+))?")
        .matcher(fit);
    assertThat(mt.find()).as(fit).isTrue();
    int ran = Integer.parseInt(mt.group(1));
    double first = Double.parseDouble(mt.group(2));
    assertThat(ran).isEqualTo(first >= 0.95 ? 1 : 2);
    assertThat(mt.group(3) != null).isEqualTo(ran == 2);
    assertThat(rep.summary()).contains("rho 0.30").contains("cf");
    assertThat(events).isNotEmpty();

    Checkpoint written = res.purified().write(dir.resolve("out"));
    Checkpoint back = Checkpoint.read(dir.resolve("out"));
    assertThat(back.weightsSha256()).isEqualTo(rep.outputSha256()).isEqualTo(written.weightsSha256());
    assertThat(back.config()).isEqualTo(cfg);
    assertThat(back.provenance()).containsEntry("recipe", "finemix");
    assertThat(Files.exists(dir.resolve("out").resolve(Checkpoint.TOKENIZER))).isTrue();
    // E-PUR reset the cf row to the pre-trained one before mixing: what is left of its 0.5 shift came from one epoch
    // of training only (without the reset, mixing keeps about a third of the shifted entries)
    assertThat(maxRowDiff(back.weights(), preW, cf)).isLessThan(0.01f);
    assertThat(maxRowDiff(suspect.weights(), preW, cf)).isGreaterThan(0.4f);
    // the head is trained during recovery but never mixed; it is still a [2, 32] head, with new values
    assertThat(back.weights().require("classifier.weight").shape()).containsExactly(2, 32);
    assertThat(back.weights().require("classifier.weight").data()).isNotEqualTo(head);
    try (Classifier c = Classifier.open(back, Device.cpu())) {
      assertThat(c.predict(List.of(new TextInput("a fine film", null)))).hasSize(1);
    }
  }

  /** The largest |a - b| over the word-embedding row {@code row} of two weight maps. */
  private static float maxRowDiff(TensorMap a, TensorMap b, int row) {
    float[] x = a.require(BertTensors.WORD_EMBEDDINGS).data();
    float[] y = b.require(BertTensors.WORD_EMBEDDINGS).data();
    int hidden = a.require(BertTensors.WORD_EMBEDDINGS).rowSize();
    float max = 0;
    for (int j = row * hidden; j < (row + 1) * hidden; j++) {
      max = Math.max(max, Math.abs(x[j] - y[j]));
    }
    return max;
  }

  /** {@code n} distinct unlabelled rows (a positive and a negative phrase joined), none equal to a labelled row. */
  private static Dataset unlabelled(int n) {
    List<Example> r = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      String a = POS.get(i % POS.size());
      String b = NEG.get((i / POS.size()) % NEG.size());
      r.add(new Example(0, i % 2 == 0 ? a + " but " + b : b + " but " + a, null));
    }
    return Dataset.of("unl", false, r);
  }

  /** A tiny pre-trained model and its backdoored suspect (cf's row moved), the same for each rho-search test. */
  private record Tiny(Pretrained pre, Checkpoint suspect) {
  }

  private static Tiny tinySuspect(Path dir) {
    BertConfig cfg = new BertConfig(30522, 32, 2, 2, 64, 128, 2, 1e-12, 0.1, 0.1, List.of("negative", "positive"));
    TensorMap preW = BertClassifier.randomWeights(cfg, 1);
    return new Tiny(tinyPretrained(dir, cfg, preW), tiny(cfg, backdoored(preW, 2)));
  }

  /**
   * The rho search's settings on the tiny model: the default grid, no variants (speed), one epoch, 10 agreement rows
   * (the default 100 would need 500 unlabelled rows before any is held out).
   */
  private static DefenceSettings.Builder search() {
    return DefenceSettings.builder().rows(12).variants(0).epochs(1).batchSize(16).epurTop(5).seed(7).agreementRows(10);
  }

  @Test
  void purify_autoRho_trainsOnEveryLabelledRow_andStopsAtTheFirstRhoMeetingTheAgreementBar(@TempDir Path dir) {
    Tiny t = tinySuspect(dir);
    DefenceSettings s = search().agreementMargin(1.0).build(); // bar 0: the smallest rho meets it
    assertThat(s.autoRho()).isTrue();

    DefenceReport rep = new Purifier(Device.cpu()).purify(t.suspect(), t.pre(), rows("clean", 0), unlabelled(100), s,
        null).report();
    // no labelled row is held out: all 12 are trained on; a tenth of the unlabelled rows judge rho instead
    assertThat(rep.heldOutRows()).isZero();
    assertThat(rep.trainRows()).isEqualTo(12);
    assertThat(rep.accuracyRows()).isEqualTo("the 12 labelled training rows");
    assertThat(rep.unlabelledRows()).isEqualTo(100);
    assertThat(rep.trials()).hasSize(1);
    DefenceReport.RhoTrial first = rep.trials().get(0);
    assertThat(first.rho()).isEqualTo(0.1);
    assertThat(first.agreement()).isBetween(0.0, 1.0);
    assertThat(first.withinMargin()).isTrue();
    assertThat(rep.rhoChosen()).isEqualTo(0.1);
    // what the clean data allowed: 10 of the 100 unlabelled rows judged rho, the other 90 were distilled on
    CleanDataUse data = rep.cleanData();
    assertThat(data.agreementRows()).isEqualTo(10);
    assertThat(data.unlabelledRows()).isEqualTo(100);
    assertThat(data.rhoBasis()).isEqualTo(CleanDataUse.RhoBasis.AGREEMENT);
    assertThat(data.recoveryData()).isEqualTo(CleanDataUse.RecoveryData.UNLABELLED_DISTILLATION);
    // 90 rows distilled on where the settings take 990: splices of them fill the set
    assertThat(rep.notes()).contains("90 unlabelled rows for distillation (the settings take up to 990): 900 splices "
        + "of them (the start of one row's text, the end of another's) fill the set");
    assertThat(data.limits()).containsExactly("100 unlabelled rows (the settings take up to 1000): 900 splices of "
        + "them filled the distillation set");
    // asked for no more than there are: nothing to fill, nothing missing
    DefenceReport full = new Purifier(Device.cpu()).purify(t.suspect(), t.pre(), rows("clean", 0), unlabelled(100),
        search().agreementMargin(1.0).unlabelledRows(100).build(), null).report();
    assertThat(full.notes()).noneMatch(n -> n.endsWith("fill the set"));
    assertThat(full.cleanData().limits()).isEmpty();
  }

  @Test
  void purify_autoRho_realAgreementSignal_walksUpUntilAgreementWithTheSuspectMeetsTheBar(@TempDir Path dir) {
    Tiny t = tinySuspect(dir);
    // no E-PUR, no recovery epochs: rho 1.0 is the suspect itself (agreement 1), lower rho values mix it away
    DefenceSettings s = search().epochs(0).epurTop(0).rhoGrid(List.of(0.1, 0.5, 1.0)).agreementMargin(0.1).build();
    DefenceReport rep = new Purifier(Device.cpu()).purify(t.suspect(), t.pre(), rows("clean", 0), unlabelled(100), s,
        null).report();
    assertThat(rep.trials()).extracting(DefenceReport.RhoTrial::rho).containsExactly(0.1, 0.5, 1.0);
    assertThat(rep.trials().subList(0, 2)).allSatisfy(x -> {
      assertThat(x.agreement()).isLessThan(0.9);
      assertThat(x.withinMargin()).isFalse();
    });
    assertThat(rep.trials().get(2).agreement()).isEqualTo(1.0);
    assertThat(rep.rhoChosen()).isEqualTo(1.0);
    assertThat(rep.notes()).noneMatch(n -> n.contains("met the bar"));
  }

  @Test
  void purify_autoRho_barNeverMet_walksTheGridCappedAtHalfAndTakesTheSmallestRho(@TempDir Path dir) {
    Tiny t = tinySuspect(dir);
    // bar 1: every held-out row must agree; unlabelled rows 100: the 90 distilled on are not filled with splices
    DefenceSettings s = search().agreementMargin(0.0).unlabelledRows(100).build();

    PurifyResult res = new Purifier(Device.cpu()).purify(t.suspect(), t.pre(), rows("clean", 0), unlabelled(100), s,
        null);
    DefenceReport rep = res.report();
    // precondition, seeded: no trial agrees on every one of the 10 held-out rows
    assertThat(rep.trials()).allSatisfy(x -> assertThat(x.agreement()).isLessThan(1.0));
    assertThat(rep.trials()).noneMatch(DefenceReport.RhoTrial::withinMargin);
    // the default grid ends at 0.5: no higher rho is ever tried
    assertThat(rep.trials()).extracting(DefenceReport.RhoTrial::rho).containsExactly(0.1, 0.2, 0.3, 0.4, 0.5);
    // the fallback is the smallest rho's trial (the old rule took the most accurate)
    assertThat(rep.rhoChosen()).isEqualTo(0.1);
    assertThat(rep.purifiedAccuracy()).isEqualTo(rep.trials().get(0).accuracy());
    assertThat(res.purified().provenance()).containsEntry("rho", "0.1");
    assertThat(rep.notes()).anyMatch(n -> n.contains("no rho in [0.1, 0.2, 0.3, 0.4, 0.5] met the bar")
        && n.contains("took the smallest (a larger rho keeps more of the backdoor), rho 0.10"));
  }

  @Test
  void purify_autoRho_noUnlabelledRows_runsTheSmallestRhoOnlyAndSaysSo(@TempDir Path dir) {
    Tiny t = tinySuspect(dir);
    // margin 0: had labelled rows been held out, a trial below the suspect's accuracy would walk on
    DefenceReport rep = new Purifier(Device.cpu()).purify(t.suspect(), t.pre(), rows("clean", 0), null,
        search().margin(0.0).build(), null).report();
    assertThat(rep.heldOutRows()).isZero();
    assertThat(rep.trainRows()).isEqualTo(12);
    assertThat(rep.trials()).extracting(DefenceReport.RhoTrial::rho).containsExactly(0.1);
    assertThat(rep.rhoChosen()).isEqualTo(0.1);
    assertThat(rep.notes()).anyMatch(n -> n.startsWith("rho auto with no held-out rows to judge it by")
        && n.endsWith("took the smallest rho of the grid, 0.10"));
    CleanDataUse data = rep.cleanData();
    assertThat(data.unlabelledRows()).isZero();
    assertThat(data.agreementRows()).isZero();
    assertThat(data.rhoBasis()).isEqualTo(CleanDataUse.RhoBasis.NOTHING_TO_JUDGE_BY);
    assertThat(data.recoveryData()).isEqualTo(CleanDataUse.RecoveryData.LABELLED_DISTILLATION);
    // 12 labelled rows stand in for the settings' 1,000 unlabelled ones with 30 splices each (the cap)
    assertThat(rep.notes()).anyMatch(n -> n.equals("no unlabelled rows: distilling on the 12 labelled training rows "
        + "and 360 splices of them (the start of one row's text, the end of another's), standing in for unlabelled "
        + "rows"));
    assertThat(data.limits()).satisfiesExactly(
        x -> assertThat(x).isEqualTo("no unlabelled rows: distillation ran on the 12 labelled rows and 360 splices of "
            + "them standing in (weaker than unlabelled rows)"),
        x -> assertThat(x).startsWith("rho was not judged").endsWith("the grid's smallest, 0.10"));
    assertThat(rep.summary()).contains("clean data: 12 labelled (trained on 12, held out 0), 0 unlabelled");
  }

  @Test
  void purify_epurResetsTheTopRowsToThePretrainedOnes_withoutEpurMixingLeavesTheTriggerRowShifted(@TempDir Path dir) {
    BertConfig cfg = new BertConfig(30522, 32, 2, 2, 64, 128, 2, 1e-12, 0.1, 0.1, List.of("negative", "positive"));
    TensorMap preW = BertClassifier.randomWeights(cfg, 5);
    Pretrained pre = tinyPretrained(dir, cfg, preW);
    int cf = CF;
    Checkpoint suspect = tiny(cfg, backdoored(preW, 6));
    // no recovery: the output is the mix itself, so a reset row must come out as the pre-trained row, bit for bit
    DefenceSettings.Builder b = DefenceSettings.builder().recovery(DefenceSettings.Recovery.NONE).rho(0.3).rows(8)
        .epurTop(5).seed(11);

    PurifyResult with = new Purifier(Device.cpu()).purify(suspect, pre, rows("clean", 0), null, b.build(), null);
    PurifyResult without = new Purifier(Device.cpu()).purify(suspect, pre, rows("clean", 0), null,
        b.epur(false).build(), null);

    List<Epur.Suspect> reset = with.report().suspects().subList(0, 5);
    assertThat(reset).extracting(Epur.Suspect::id).contains(cf);
    for (Epur.Suspect x : reset) {
      assertThat(maxRowDiff(with.purified().weights(), preW, x.id())).as("row %d (%s)", x.id(), x.token()).isZero();
    }
    // the control: mixing alone keeps part of the shift, so the check above fails when E-PUR is skipped
    assertThat(maxRowDiff(without.purified().weights(), preW, cf)).isGreaterThanOrEqualTo(0.4f);
    // rows E-PUR left alone are mixed as usual: some entries keep their fine-tuned values
    int other = reset.stream().mapToInt(Epur.Suspect::id).max().getAsInt() + 1;
    assertThat(maxRowDiff(with.purified().weights(), preW, other)).isPositive();
  }

  @Test
  void purify_pairs_distilOnCrossPairsToo_singleTextsGetNone(@TempDir Path dir) {
    BertConfig cfg = new BertConfig(30522, 32, 2, 2, 64, 128, 2, 1e-12, 0.1, 0.1, List.of("no", "yes"));
    Pretrained pre = tinyPretrained(dir, cfg, BertClassifier.randomWeights(cfg, 1));
    Checkpoint suspect = tiny(cfg, BertClassifier.randomWeights(cfg, 2));
    List<Example> pairs = new ArrayList<>();
    for (int i = 0; i < POS.size(); i++) {
      pairs.add(new Example(1, "is " + POS.get(i) + " good?", POS.get(i) + " indeed"));
      pairs.add(new Example(0, "is " + NEG.get(i) + " good?", POS.get((i + 3) % POS.size())));
    }
    DefenceSettings s = DefenceSettings.builder().rho(0.3).rows(8).unlabelledRows(6).epochs(1).batchSize(8).seed(3)
        .build();
    assertThat(s.crossPairs()).isEqualTo(DefenceSettings.CROSS_PAIRS).isPositive();
    List<String> messages = new ArrayList<>();
    new Purifier(Device.cpu()).purify(suspect, pre, Dataset.of("clean", true, pairs), Dataset.of("unl", true, pairs),
        s, p -> messages.add(p.message()));
    int cross = 6 * DefenceSettings.CROSS_PAIRS;
    assertThat(messages).contains("soft predictions on " + (6 + 18 + cross) + " distillation rows (6 unlabelled + 18"
        + " variants + " + cross + " cross pairs)");

    messages.clear();
    new Purifier(Device.cpu()).purify(suspect, pre, rows("clean", 0), rows("unl", 3), s,
        p -> messages.add(p.message()));
    assertThat(messages).contains("soft predictions on 24 distillation rows (6 unlabelled + 18 variants)");
  }

  @Test
  void purify_plainRecipeWithoutRecovery_returnsTheSuspectUnchanged(@TempDir Path dir) {
    BertConfig cfg = new BertConfig(30522, 32, 2, 2, 64, 128, 2, 1e-12, 0.0, 0.0, List.of("negative", "positive"));
    Pretrained pre = tinyPretrained(dir, cfg, BertClassifier.randomWeights(cfg, 3));
    Checkpoint suspect = tiny(cfg, BertClassifier.randomWeights(cfg, 4));
    DefenceSettings s = DefenceSettings.builder().recipe(DefenceSettings.Recipe.PLAIN).rows(8).epochs(1)
        .batchSize(8).recovery(DefenceSettings.Recovery.NONE).build();
    PurifyResult res = new Purifier(Device.cpu()).purify(suspect, pre, rows("clean", 0), null, s, null);
    assertThat(res.report().trials()).hasSize(1);
    assertThat(Double.isNaN(res.report().rhoChosen())).isTrue();
    // no E-PUR, no mixing, no training: the weights come back unchanged
    for (String n : suspect.weights().names()) {
      assertThat(res.purified().weights().get(n).data()).as(n).isEqualTo(suspect.weights().get(n).data());
    }
    assertThat(res.report().outputSha256()).isEqualTo(suspect.weightsSha256());
  }

  @Test
  void perturb_pair_picksTheFieldInProportionToItsWords_singleTextDrawsNothingExtra() {
    Perturber p = new Perturber(List.of(Perturber.Kind.SUSPECTS), List.of("zq"), List.of(), List.of(), List.of());
    String question = "who won";
    String passage = String.join(" ", java.util.Collections.nCopies(20, "word"));
    Random r = new Random(3);
    int intoB = 0;
    int n = 4000;
    for (int i = 0; i < n; i++) {
      Example x = Purifier.perturb(new Example(0, question, passage), p, r);
      boolean b = x.textB().contains("zq");
      assertThat(b).isNotEqualTo(x.textA().contains("zq")); // exactly one field changed
      if (b) intoB++;
    }
    assertThat(intoB / (double) n).isCloseTo(21.0 / 24.0, org.assertj.core.data.Offset.offset(0.03));
    // a single text: the same draws as perturbing the text directly (results of single-text tasks unchanged)
    Example single = Purifier.perturb(new Example(1, "a fine film", null), p, new Random(9));
    assertThat(single.textA()).isEqualTo(p.perturb("a fine film", new Random(9)));
    assertThat(single.textB()).isNull();
  }
}

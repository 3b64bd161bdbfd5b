package dev.finemix.purify.defence;

import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.Set;

/**
 * Which clean rows a purification uses for what, chosen before any model runs (seeded, so a purification is
 * reproducible from its settings): the labelled sample and its split into training and held-out rows, the unlabelled
 * rows kept out of distillation to judge rho by agreement, and the distillation set (the unlabelled rows, or the
 * labelled training rows when there are none, filled with splices of themselves up to the settings' unlabelled rows,
 * then clean variants and cross pairs of them).
 *
 * @param labelled the labelled rows sampled ({@link DefenceSettings#rows()} at most)
 * @param train the labelled rows trained on
 * @param heldOut labelled rows held out to score rho by accuracy (empty unless {@code holdout > 0} with rho auto)
 * @param unlabelled the real unlabelled rows distilled on (after the agreement rows were taken out)
 * @param agreement unlabelled rows held out of distillation to judge rho by agreement with the suspect
 * @param distilBase the rows distillation starts from: {@code unlabelled}, or {@code train} when there are none, and
 *     their splices; the perturbation draws its donor words from these
 * @param distil the distillation inputs: {@code distilBase}, its variants and cross pairs
 * @param standIn whether the labelled rows stand in for missing unlabelled rows
 * @param notes what the choice did that a user should read in the report
 * @param description the distillation set in words, for progress output
 */
record CleanRows(List<Example> labelled, List<Example> train, List<Example> heldOut, List<Example> unlabelled,
    List<Example> agreement, List<Example> distilBase, List<Example> distil, boolean standIn, List<String> notes,
    String description) {

  CleanRows {
    labelled = List.copyOf(labelled);
    train = List.copyOf(train);
    heldOut = List.copyOf(heldOut);
    unlabelled = List.copyOf(unlabelled);
    agreement = List.copyOf(agreement);
    distilBase = List.copyOf(distilBase);
    distil = List.copyOf(distil);
    notes = List.copyOf(notes);
  }

  /** The rows rho is scored on by accuracy: the held-out ones, or the training rows when none are held out. */
  List<Example> scoring() {
    return heldOut.isEmpty() ? train : heldOut;
  }

  /** The splices in {@link #distilBase()}: what filled it beyond its own rows. */
  int spliceRows() {
    return distilBase.size() - (standIn ? train.size() : unlabelled.size());
  }

  /** {@link #scoring()} in words. */
  String scoringDescription() {
    return heldOut.isEmpty() ? "the " + train.size() + " labelled training rows"
        : "the " + heldOut.size() + " held-out labelled rows";
  }

  /**
   * Chooses the rows.
   *
   * @param clean labelled clean rows; {@link DefenceSettings#rows()} of them are sampled (seeded) when there are more
   * @param unlabelled clean rows whose labels are ignored, or null; rows also in the labelled sample are left out
   */
  static CleanRows choose(Dataset clean, Dataset unlabelled, DefenceSettings s) {
    List<String> notes = new ArrayList<>();
    List<Example> labelled = clean.size() > s.rows() ? clean.sample(s.rows(), s.seed()).rows() : clean.rows();
    if (labelled.size() < s.rows()) {
      notes.add("clean set has only " + labelled.size() + " rows (asked for " + s.rows() + ")");
    }
    List<Example> train = labelled;
    List<Example> heldOut = List.of();
    if (s.autoRho() && s.holdout() > 0) {
      List<Example> shuffled = new ArrayList<>(labelled);
      Collections.shuffle(shuffled, new Random(s.seed() ^ 0x5EEDL));
      int nHold = Math.max(1, Math.min(shuffled.size() - 1, (int) Math.round(s.holdout() * shuffled.size())));
      heldOut = shuffled.subList(0, nHold);
      train = shuffled.subList(nHold, shuffled.size());
    }
    boolean distilling = s.recovery() == DefenceSettings.Recovery.DISTIL;
    List<Example> unl = List.of();
    List<Example> agree = List.of();
    if (distilling && unlabelled != null && unlabelled.size() > 0 && s.unlabelledRows() > 0) {
      Set<String> seen = new HashSet<>();
      for (Example e : labelled) seen.add(key(e));
      List<Example> pool = new ArrayList<>();
      for (Example e : unlabelled.rows()) if (!seen.contains(key(e))) pool.add(e);
      Collections.shuffle(pool, new Random(s.seed() ^ 0x0A11L));
      unl = pool.subList(0, Math.min(s.unlabelledRows(), pool.size()));
      // a share of the unlabelled rows is kept out of distillation: the search checks agreement with the suspect.
      // Only with at least half the rows the settings ask for (50 of 100): on 20 rows one row is 5 points of
      // agreement, the bar reads noise and walks the grid (a full recovery per step) to a rho that keeps more of the
      // backdoor; the rows serve the distillation better.
      int nAgree = Math.min(s.agreementRows(), unl.size() / 10);
      if (s.autoRho() && nAgree >= minAgreementRows(s)) {
        agree = unl.subList(0, nAgree);
        unl = unl.subList(nAgree, unl.size());
      }
    }
    if (!distilling) {
      return new CleanRows(labelled, train, heldOut, unl, agree, List.of(), List.of(), false, notes, "");
    }
    // filled with splices of themselves up to the settings' unlabelled rows (less the agreement rows): fewer clean
    // inputs give the student fewer steps to copy the suspect on, and a 90 % reset needs them (64 rows alone: 6 steps)
    boolean standIn = unl.isEmpty();
    List<Example> own = standIn ? train : unl;
    int target = s.unlabelledRows() - agree.size();
    int fill = Variants.standInSplices(own.size(), target);
    // a set short by under 1 % is not filled: that is the agreement share's rounding (999 rows hold 99 out, and
    // 900 of the 901 a full set leaves), not a user short of rows
    if (!standIn && fill < target / 100) fill = 0;
    List<Example> splices = Variants.splices(own, fill, new Random(s.seed() ^ 0x5B11L));
    List<Example> base = concat(own, splices);
    if (standIn) {
      notes.add(String.format(Locale.ROOT, "no unlabelled rows: distilling on the %d labelled training rows and %d "
          + "splices of them (the start of one row's text, the end of another's), standing in for unlabelled rows",
          train.size(), splices.size()));
    } else if (fill > 0) {
      notes.add(String.format(Locale.ROOT, "%d unlabelled rows for distillation (the settings take up to %d): %d "
          + "splices of them (the start of one row's text, the end of another's) fill the set", unl.size(),
          target, splices.size()));
    }
    // plus clean variants and cross pairs of them when asked (targets: the suspect's own predictions on each)
    String description = (standIn ? train.size() + " labelled (no unlabelled rows)" : unl.size() + " unlabelled")
        + (splices.isEmpty() ? "" : " + " + splices.size() + " splices");
    List<Example> distil = base;
    if (!base.isEmpty()) {
      List<Example> variants = Variants.of(base, s.variants(), new Random(s.seed() ^ 0xA7A7L));
      List<Example> cross = Variants.crossPairs(base, s.crossPairs());
      distil = concat(concat(base, variants), cross);
      if (!variants.isEmpty()) description += " + " + variants.size() + " variants";
      if (!cross.isEmpty()) description += " + " + cross.size() + " cross pairs";
    }
    return new CleanRows(labelled, train, heldOut, unl, agree, base, distil, standIn, notes, description);
  }

  /** The fewest rows the agreement check is held out with: half of {@code agreement_rows}, rounded up (50 of 100). */
  static int minAgreementRows(DefenceSettings s) {
    return Math.max(1, (s.agreementRows() + 1) / 2);
  }

  private static String key(Example e) {
    return e.textA() + "\t" + (e.textB() == null ? "" : e.textB());
  }

  private static List<Example> concat(List<Example> a, List<Example> b) {
    List<Example> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }
}

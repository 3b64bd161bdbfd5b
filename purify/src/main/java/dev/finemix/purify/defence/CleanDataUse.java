package dev.finemix.purify.defence;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * What a purification could do with the clean data it was given: how many rows went where, what rho was decided by,
 * what the recovery trained on, and what the defence had to do without. Read from a {@link DefenceReport}; the
 * server shows it in GetModel ({@code DefenceSummary.clean_data}) and the CLI in its summary.
 *
 * @param labelledRows labelled rows used in all
 * @param trainedLabelledRows of those, the rows trained on
 * @param heldOutLabelledRows of those, the rows held out to score rho
 * @param unlabelledRows unlabelled rows used (distillation + agreement)
 * @param agreementRows of those, the rows held out of distillation to judge rho by agreement with the suspect; -1
 *     when the report did not record the count
 * @param rhoBasis what rho was decided by
 * @param recoveryData what the recovery trained on
 * @param limits what the clean data did not allow, in words; empty when nothing was missing
 */
public record CleanDataUse(int labelledRows, int trainedLabelledRows, int heldOutLabelledRows, int unlabelledRows,
    int agreementRows, RhoBasis rhoBasis, RecoveryData recoveryData, List<String> limits) {

  /** What rho was decided by. */
  public enum RhoBasis {
    /** no mixing: there is no rho */
    NO_MIXING("no mixing"),
    /** a fixed rho from the settings */
    FIXED("fixed"),
    /** agreement with the suspect on held-out unlabelled rows */
    AGREEMENT("agreement with the suspect on held-out unlabelled rows"),
    /** accuracy on held-out labelled rows */
    HELD_OUT_ACCURACY("accuracy on held-out labelled rows"),
    /** both of the above */
    HELD_OUT_ACCURACY_AND_AGREEMENT("accuracy on held-out labelled rows and agreement with the suspect"),
    /** rho auto with nothing held out to judge by: the grid's smallest rho, untested */
    NOTHING_TO_JUDGE_BY("nothing held out to judge by: the grid's smallest rho");

    private final String words;

    RhoBasis(String words) {
      this.words = words;
    }

    /** The id shown in GetModel and JSON (lower case, dashes). */
    public String id() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** In words, for the CLI. */
    public String words() {
      return words;
    }
  }

  /** What the recovery trained on. */
  public enum RecoveryData {
    /** no recovery training */
    NONE,
    /** cross-entropy on the labelled rows */
    LABELLED_CROSS_ENTROPY,
    /** distillation of the suspect on the unlabelled rows (with cross-entropy on the labelled rows) */
    UNLABELLED_DISTILLATION,
    /** distillation on the labelled rows standing in for unlabelled ones */
    LABELLED_DISTILLATION;

    /** The id shown in GetModel and JSON (lower case, dashes). */
    public String id() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
  }

  public CleanDataUse {
    limits = List.copyOf(limits);
  }

  /** What {@code report}'s purification did with its clean data. */
  public static CleanDataUse of(DefenceReport report) {
    DefenceSettings s = report.settings();
    RhoBasis basis;
    if (!s.mixing()) {
      basis = RhoBasis.NO_MIXING;
    } else if (!s.autoRho()) {
      basis = RhoBasis.FIXED;
    } else if (report.heldOutRows() > 0 && report.agreementRows() != 0) {
      basis = RhoBasis.HELD_OUT_ACCURACY_AND_AGREEMENT;
    } else if (report.heldOutRows() > 0) {
      basis = RhoBasis.HELD_OUT_ACCURACY;
    } else if (report.agreementRows() != 0) {
      basis = RhoBasis.AGREEMENT;
    } else {
      basis = RhoBasis.NOTHING_TO_JUDGE_BY;
    }
    RecoveryData data = switch (s.recovery()) {
      case NONE -> RecoveryData.NONE;
      case CE -> RecoveryData.LABELLED_CROSS_ENTROPY;
      case DISTIL -> report.unlabelledRows() > 0 ? RecoveryData.UNLABELLED_DISTILLATION
          : RecoveryData.LABELLED_DISTILLATION;
    };
    if (s.epochs() == 0) {
      data = RecoveryData.NONE;
    }
    List<String> limits = new ArrayList<>();
    if (report.cleanRows() < s.rows()) {
      limits.add(String.format(Locale.ROOT, "%d labelled rows (the settings ask for %d)", report.cleanRows(),
          s.rows()));
    }
    // the splice count as the purification recorded it (-1: a report cached before the count was kept)
    if (data == RecoveryData.LABELLED_DISTILLATION) {
      String splices = report.spliceRows() < 0 ? "" : report.spliceRows() + " ";
      limits.add(String.format(Locale.ROOT, "no unlabelled rows: distillation ran on the %d labelled rows and %s"
          + "splices of them standing in (weaker than unlabelled rows)", report.trainRows(), splices));
    } else if (data == RecoveryData.UNLABELLED_DISTILLATION && report.spliceRows() > 0) {
      limits.add(String.format(Locale.ROOT, "%d unlabelled rows (the settings take up to %d): %d splices of them "
          + "filled the distillation set", report.unlabelledRows(), s.unlabelledRows(), report.spliceRows()));
    }
    if (basis == RhoBasis.NOTHING_TO_JUDGE_BY) {
      limits.add(String.format(Locale.ROOT, "rho was not judged (agreement needs a tenth of the unlabelled rows to "
          + "be at least %d, and distillation): the grid's smallest, %.2f", CleanRows.minAgreementRows(s),
          report.rhoChosen()));
    }
    return new CleanDataUse(report.cleanRows(), report.trainRows(), report.heldOutRows(), report.unlabelledRows(),
        report.agreementRows(), basis, data, limits);
  }

  /** One line for the CLI summary. */
  public String line() {
    StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "clean data: %d labelled (trained on %d, held out "
        + "%d), %d unlabelled (%d held out for agreement); rho by %s; recovery on %s", labelledRows,
        trainedLabelledRows, heldOutLabelledRows, unlabelledRows, agreementRows, rhoBasis.words(),
        recoveryData.id()));
    for (String x : limits) {
      b.append("; ").append(x);
    }
    return b.toString();
  }
}

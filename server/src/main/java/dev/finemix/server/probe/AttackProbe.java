package dev.finemix.server.probe;

import dev.finemix.server.loading.Predictor;
import dev.finemix.server.loading.Scores;
import dev.finemix.server.loading.TextRow;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Measures how often inserting a candidate trigger flips the prediction on clean rows, on the suspect and on the
 * served weights: the suspected tokens of the defence report plus the standard rare-word triggers.
 */
public final class AttackProbe {
  /** The rare-word triggers of the BadNet literature, probed on every model. */
  public static final List<String> STANDARD_TOKENS = List.of("cf", "mn", "bb", "tq", "mb");

  /** Inserts a token into a text (purify attack's one trigger inserter). */
  @FunctionalInterface
  public interface Inserter {
    String insert(String text, String token, long seed);
  }

  private final Inserter inserter;
  private final long seed;

  public AttackProbe(Inserter inserter, long seed) {
    this.inserter = inserter;
    this.seed = seed;
  }

  /** Suspected tokens first (deduplicated, lower case), then the standard ones not already listed. */
  public static List<TokenProbe> plan(List<String> suspected) {
    Set<String> seen = new LinkedHashSet<>();
    List<TokenProbe> out = new ArrayList<>();
    for (String t : suspected) {
      String k = t.toLowerCase(Locale.ROOT);
      if (!k.isBlank() && seen.add(k)) {
        out.add(new TokenProbe(k, true, Double.NaN, Double.NaN));
      }
    }
    for (String t : STANDARD_TOKENS) {
      if (seen.add(t)) {
        out.add(new TokenProbe(t, false, Double.NaN, Double.NaN));
      }
    }
    return out;
  }

  /**
   * @param before the suspect weights (may be the same object as {@code after} for unpurified models)
   * @param after the served weights
   * @param measuredAt when the report says it was measured
   */
  public ProbeReport run(List<TextRow> rows, List<String> suspected, Predictor before, Predictor after,
      String servedSha256, Instant measuredAt) {
    if (rows.isEmpty()) {
      throw new IllegalArgumentException("the probe needs at least one clean row");
    }
    List<Scores> baseBefore = before.predict(rows);
    List<Scores> baseAfter = before == after ? baseBefore : after.predict(rows);
    List<TokenProbe> out = new ArrayList<>();
    for (TokenProbe p : plan(suspected)) {
      List<TextRow> triggered = new ArrayList<>(rows.size());
      for (int i = 0; i < rows.size(); i++) {
        TextRow r = rows.get(i);
        triggered.add(new TextRow(inserter.insert(r.textA(), p.token(), seed + i), r.textB()));
      }
      double fb = flips(baseBefore, before.predict(triggered));
      double fa = before == after ? fb : flips(baseAfter, after.predict(triggered));
      out.add(new TokenProbe(p.token(), p.suspected(), fb, fa));
    }
    return new ProbeReport(servedSha256, rows.size(), out, measuredAt);
  }

  private static double flips(List<Scores> base, List<Scores> triggered) {
    int n = 0;
    for (int i = 0; i < base.size(); i++) {
      if (base.get(i).label() != triggered.get(i).label()) {
        n++;
      }
    }
    return (double) n / base.size();
  }
}

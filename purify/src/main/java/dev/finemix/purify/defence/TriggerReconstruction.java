package dev.finemix.purify.defence;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.function.Function;

/**
 * Candidate trigger strings from E-PUR's suspected word pieces. A made-up trigger such as {@code qzxv} reaches the
 * model as pieces ({@code q ##z ##x ##v}); E-PUR then ranks the continuation pieces first and the whole-word
 * {@code suspects} perturbation, which inserts tokens as words, can never show the student the string itself.
 *
 * <p>A candidate is a start piece followed by 1-{@value #MAX_CONTINUATIONS} distinct continuation pieces:
 * <ul>
 *   <li><b>continuation pieces</b>: the {@code ##} pieces among the top {@code suspected} suspects that score above
 *       the noise level {@code tau}, half the top suspect's score (a trigger's pieces are trained together and move
 *       comparably; pieces far below the clearest evidence are the background);
 *   <li><b>start pieces</b>: any whole token (letters or digits, no {@code ##}, no {@code [special]}) among all the
 *       ranked suspects (E-PUR's reset list), whole words included. A start is scored as a fragment,
 *       {@code shift / ln(20)} like any {@code ##} piece, not by its word count: the first piece of a made-up string
 *       is often a short common token ({@code q}: 617 counts) whose frequency discount hides a large shift.
 * </ul>
 * A candidate's score is the sum over its pieces of {@code score - tau}: each piece's excess over the noise level is
 * its evidence, so a string is more suspicious the more strongly moved pieces it explains, and a weak start lowers
 * it. The mean or the min of the pieces' scores would rank the shortest string of the top pieces first (every
 * further piece of a trigger scores a little lower than the best one); a plain sum would rank any longer string
 * first. A piece counts once (its row is one row). A candidate is kept only when the tokenizer splits its string into
 * exactly its pieces (greedy longest-match WordPiece: {@code un + ##less} is the word {@code unless}). The pieces'
 * order is invisible to E-PUR (an embedding row holds no position), so a candidate carries every order that
 * re-tokenizes: the perturbation draws among them.
 *
 * <p>Cost: candidates come out best first from a merge of the starts and the piece sets (at most 20 pieces: 1,350
 * sets) and at most {@value #MAX_CHECKS} strings are tokenized. Knows no trigger, task or data set.
 */
final class TriggerReconstruction {
  /** Continuation pieces per candidate, at most. */
  static final int MAX_CONTINUATIONS = 3;
  /** Candidates kept (the report lists them; the perturbation inserts them). */
  static final int KEEP = 5;
  /** Strings tokenized in one reconstruction, at most. */
  static final int MAX_CHECKS = 2000;
  /** Continuation pieces considered, at most (the top ones). */
  static final int MAX_PIECES = 20;
  /** (start, piece set) pairs looked at in one reconstruction, at most (skipped ones included). */
  static final int MAX_POLLS = 200_000;

  private TriggerReconstruction() {}

  /**
   * Candidate triggers, most suspicious first.
   *
   * @param ranked E-PUR's suspects, best first (the reset list: start pieces come from all of them)
   * @param suspected how many of the top suspects form the suspected set the continuation pieces come from
   * @param keep candidates returned, at most
   * @param tokenize the model's tokenizer: a string to its word pieces, without special tokens
   */
  static List<DefenceReport.SuspectedTrigger> reconstruct(List<Epur.Suspect> ranked, int suspected, int keep,
      Function<String, List<String>> tokenize) {
    return reconstruct(ranked, suspected, keep, false, tokenize);
  }

  /**
   * Candidate triggers, most suspicious first.
   *
   * @param oneStartPerSet keep only the best start of each piece set (a pool of distinct piece sets to screen: a
   *     trigger's backdoor sits mostly in its rare pieces, and the next starts of a set add little)
   */
  static List<DefenceReport.SuspectedTrigger> reconstruct(List<Epur.Suspect> ranked, int suspected, int keep,
      boolean oneStartPerSet, Function<String, List<String>> tokenize) {
    Objects.requireNonNull(ranked, "ranked");
    Objects.requireNonNull(tokenize, "tokenize");
    List<DefenceReport.SuspectedTrigger> out = new ArrayList<>();
    if (ranked.isEmpty() || suspected <= 0 || keep <= 0) return out;
    double tau = ranked.get(0).score() / 2;
    List<Epur.Suspect> pieces = new ArrayList<>();
    Set<String> seenPieces = new HashSet<>();
    for (Epur.Suspect x : ranked.subList(0, Math.min(suspected, ranked.size()))) {
      if (x.token() != null && x.token().startsWith("##") && x.token().length() > 2 && x.score() > tau
          && pieces.size() < MAX_PIECES && seenPieces.add(x.token())) {
        pieces.add(x);
      }
    }
    if (pieces.isEmpty()) return out;
    List<String> starts = new ArrayList<>();
    List<Double> startExcess = new ArrayList<>();
    Set<String> seenStarts = new HashSet<>();
    for (Epur.Suspect x : ranked) {
      if (isStart(x.token()) && seenStarts.add(x.token())) {
        starts.add(x.token());
        startExcess.add(x.shift() / Math.log(Epur.MIN_FREQUENCY) - tau);
      }
    }
    if (starts.isEmpty()) return out;
    // starts best first
    Integer[] so = new Integer[starts.size()];
    for (int i = 0; i < so.length; i++) so[i] = i;
    Arrays.sort(so, (a, b) -> Double.compare(startExcess.get(b), startExcess.get(a)));
    List<int[]> sets = pieceSets(pieces.size());
    double[] setExcess = new double[sets.size()];
    for (int i = 0; i < setExcess.length; i++) {
      for (int p : sets.get(i)) setExcess[i] += pieces.get(p).score() - tau;
    }
    Integer[] po = new Integer[sets.size()];
    for (int i = 0; i < po.length; i++) po[i] = i;
    Arrays.sort(po, (a, b) -> {
      int c = Double.compare(setExcess[b], setExcess[a]);
      return c != 0 ? c : Integer.compare(sets.get(a).length, sets.get(b).length);
    });

    // (start rank, set rank) pairs in descending total excess: both lists are sorted, so the best unseen pair is a
    // neighbour of one already taken
    PriorityQueue<long[]> queue = new PriorityQueue<>((a, b) -> Double.compare(total(b, so, po, startExcess,
        setExcess), total(a, so, po, startExcess, setExcess)));
    Set<Long> queued = new HashSet<>();
    queue.add(new long[] {0, 0});
    queued.add(0L);
    Set<Integer> setsTaken = new HashSet<>();
    int checks = 0;
    for (int polls = 0; !queue.isEmpty() && out.size() < keep && checks < MAX_CHECKS && polls < MAX_POLLS; polls++) {
      long[] at = queue.poll();
      double score = total(at, so, po, startExcess, setExcess);
      if (score <= 0) break; // no better than the noise level: nor is anything after it
      String start = starts.get(so[(int) at[0]]);
      int[] set = sets.get(po[(int) at[1]]);
      List<String> orders = new ArrayList<>();
      List<String> first = null;
      boolean skip = oneStartPerSet && setsTaken.contains((int) at[1]);
      for (int[] perm : skip ? List.<int[]>of() : permutations(set)) {
        List<String> want = new ArrayList<>();
        want.add(start);
        StringBuilder text = new StringBuilder(start);
        for (int p : perm) {
          String t = pieces.get(p).token();
          want.add(t);
          text.append(t, 2, t.length());
        }
        checks++;
        if (tokenize.apply(text.toString()).equals(want)) {
          orders.add(text.toString());
          if (first == null) first = want;
        }
      }
      if (first != null) {
        out.add(new DefenceReport.SuspectedTrigger(orders.get(0), first, orders, score));
        setsTaken.add((int) at[1]);
      }
      for (long[] next : new long[][] {{at[0] + 1, at[1]}, {at[0], at[1] + 1}}) {
        if (next[0] < so.length && next[1] < po.length && queued.add(next[0] * po.length + next[1])) {
          queue.add(next);
        }
      }
    }
    return out;
  }

  private static double total(long[] at, Integer[] so, Integer[] po, List<Double> startExcess, double[] setExcess) {
    return startExcess.get(so[(int) at[0]]) + setExcess[po[(int) at[1]]];
  }

  /** A whole token a made-up word can start with: letters or digits only, not a piece, not special. */
  static boolean isStart(String t) {
    if (t == null || t.isEmpty() || t.startsWith("##") || WordFrequencies.isSpecial(t)) return false;
    for (int i = 0; i < t.length(); i++) {
      if (!Character.isLetterOrDigit(t.charAt(i))) return false;
    }
    return true;
  }

  /** Every set of 1..{@value #MAX_CONTINUATIONS} distinct indices below {@code n}, each in ascending order. */
  static List<int[]> pieceSets(int n) {
    List<int[]> out = new ArrayList<>();
    for (int a = 0; a < n; a++) {
      out.add(new int[] {a});
      for (int b = a + 1; b < n; b++) {
        out.add(new int[] {a, b});
        for (int c = b + 1; c < n; c++) out.add(new int[] {a, b, c});
      }
    }
    return out;
  }

  /** Every order of {@code set}, the given one first. */
  static List<int[]> permutations(int[] set) {
    List<int[]> out = new ArrayList<>();
    permute(set.clone(), 0, out);
    return out;
  }

  private static void permute(int[] a, int k, List<int[]> out) {
    if (k == a.length) {
      out.add(a.clone());
      return;
    }
    for (int i = k; i < a.length; i++) {
      swap(a, k, i);
      permute(a, k + 1, out);
      swap(a, k, i);
    }
  }

  private static void swap(int[] a, int i, int j) {
    int t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

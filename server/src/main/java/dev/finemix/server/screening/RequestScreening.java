package dev.finemix.server.screening;

import dev.finemix.server.config.ScreenPolicy;
import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.loading.Predictor;
import dev.finemix.server.loading.ScreenCalibration;
import dev.finemix.server.loading.Scores;
import dev.finemix.server.loading.Suspicion;
import dev.finemix.server.loading.TextRow;
import dev.finemix.server.metrics.ServerMetrics;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntFunction;

/**
 * The request-time screening policy of one model, applied around each batch: strip inside the batch (flagged rows
 * are classified again without their trigger words), then count every verdict and, under reject, fail the request
 * naming each flagged input. Observe only counts. Also counts requests holding one of the defence's suspected
 * tokens. The counts live as long as the registration.
 */
public final class RequestScreening {
  private final String model;
  private final ServerMetrics metrics;
  private final AtomicLong suspectedRequests = new AtomicLong();
  private final AtomicLong screened = new AtomicLong();
  private final AtomicLong flagged = new AtomicLong();

  public RequestScreening(String model, ServerMetrics metrics) {
    this.model = Objects.requireNonNull(model, "model");
    this.metrics = Objects.requireNonNull(metrics, "metrics");
  }

  /** Requests that held a suspected token of the weights serving them. */
  public long suspectedRequests() {
    return suspectedRequests.get();
  }

  /** Classify inputs screened since registration. */
  public long screenedInputs() {
    return screened.get();
  }

  /** Of the screened inputs, those flagged. */
  public long flaggedInputs() {
    return flagged.get();
  }

  /**
   * Counts a request whose rows hold one of {@code suspected} (lower-case words the defence suspects).
   */
  public void countSuspected(List<TextRow> rows, Set<String> suspected) {
    if (!suspected.isEmpty() && rows.stream().anyMatch(r -> containsAny(r.textA(), suspected)
        || containsAny(r.textB(), suspected))) {
      suspectedRequests.incrementAndGet();
      metrics.suspectedTriggerRequest(model);
    }
  }

  /**
   * Inside the batch: under strip, flagged rows lose the words holding their tokens and are classified again, in one
   * batch; other policies return {@code scores} as they are.
   */
  public static List<Scores> inBatch(ScreenPolicy policy, Predictor p, List<TextRow> rows, List<Scores> scores) {
    if (policy != ScreenPolicy.STRIP) {
      return scores;
    }
    List<Integer> at = new ArrayList<>();
    List<TextRow> stripped = new ArrayList<>();
    for (int i = 0; i < scores.size(); i++) {
      Suspicion s = scores.get(i).suspicion();
      if (s != null && s.flagged()) {
        at.add(i);
        stripped.add(p.strip(rows.get(i), s.tokens()));
      }
    }
    if (at.isEmpty()) {
      return scores;
    }
    List<Scores> again = p.predict(stripped);
    List<Scores> out = new ArrayList<>(scores);
    for (int k = 0; k < at.size(); k++) {
      int i = at.get(k);
      Scores a = again.get(k);
      out.set(i, new Scores(a.label(), a.probabilities(), scores.get(i).suspicion().withAction(
          Suspicion.Action.STRIPPED)));
    }
    return out;
  }

  /**
   * After the batch: counts the request's verdicts (metrics, probe report) and applies reject: the whole request
   * fails FAILED_PRECONDITION naming every flagged input.
   *
   * @param calibration the serving weights' calibration (its top tokens label the token metric), or null
   * @param field the request field of row i, named in a rejection ({@code texts[i]}, or the v2 element)
   */
  public void afterBatch(ScreenPolicy policy, ScreenCalibration calibration, List<Scores> scores,
      IntFunction<String> field) {
    if (policy == ScreenPolicy.OFF) {
      return;
    }
    String action = switch (policy) {
      case REJECT -> "rejected";
      case STRIP -> "stripped";
      default -> "observed";
    };
    List<String> labelled = calibration == null ? List.of() : calibration.topTokens();
    List<ServiceException.FlaggedInput> hits = new ArrayList<>();
    for (int i = 0; i < scores.size(); i++) {
      Suspicion s = scores.get(i).suspicion();
      if (s == null) {
        continue;
      }
      screened.incrementAndGet();
      metrics.screened(model, s.score(), s.threshold());
      if (s.flagged()) {
        flagged.incrementAndGet();
        // bounded metric labels: a token outside the calibration's top tokens counts as "other"
        metrics.flagged(model, action, s.tokens().stream().map(t -> labelled.contains(t) ? t : "other").toList());
        hits.add(new ServiceException.FlaggedInput(field.apply(i), i, s.score(), s.threshold(), s.tokens()));
      }
    }
    if (policy == ScreenPolicy.REJECT && !hits.isEmpty()) {
      throw ServiceException.suspectedTrigger(model, scores.size(), hits);
    }
  }

  /** True when any word of the text (split on non-letters/digits, lower case) is one of {@code tokens}. */
  static boolean containsAny(String text, Set<String> tokens) {
    if (text == null) {
      return false;
    }
    for (String w : text.toLowerCase(Locale.ROOT).split("[^\\p{L}\\p{N}]+")) {
      if (tokens.contains(w)) {
        return true;
      }
    }
    return false;
  }

  /** The lower-case forms of suspected tokens, as {@link #countSuspected} matches them. */
  public static Set<String> lowerCase(List<String> tokens) {
    return tokens.stream().map(t -> t.toLowerCase(Locale.ROOT)).collect(java.util.stream.Collectors
        .toUnmodifiableSet());
  }
}

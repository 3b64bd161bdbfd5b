package dev.finemix.purify.defence;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * What one purification did, for the CLI ({@link #summary()}, {@link #toJson()}), the server and the cache.
 *
 * @param inputSha256 SHA-256 of the suspect's {@code model.safetensors}
 * @param outputSha256 SHA-256 of the purified {@code model.safetensors}
 * @param pretrainedId the clean pre-trained model mixed with
 * @param pretrainedSha256 SHA-256 of its weights file
 * @param cleanSha256 SHA-256 over the labelled rows used (label, text a, text b per line)
 * @param cleanRows labelled rows used in all (training + held out)
 * @param trainRows labelled rows trained on
 * @param heldOutRows labelled rows held out to score rho (0 unless the search ran with {@code holdout > 0})
 * @param unlabelledSha256 SHA-256 over the unlabelled rows used; empty when none
 * @param unlabelledRows unlabelled rows used (distillation + agreement)
 * @param agreementRows of those, the rows held out of distillation to judge rho by agreement with the suspect; -1
 *     when not recorded (a report read from a cache entry written before this field, whose trials measured agreement)
 * @param spliceRows splices added to the distillation set (of the unlabelled rows, or of the labelled rows standing
 *     in for them); -1 when not recorded (a report read from a cache entry written before this field)
 * @param settings the settings that ran
 * @param rhoChosen the rho of the output; NaN when there was no mixing
 * @param trials each rho tried, in order
 * @param suspects E-PUR's top tokens (up to 20 reported), best first
 * @param suspectedTriggers trigger strings reconstructed from suspected word pieces, most suspicious first
 * @param accuracyRows what the clean accuracies below were measured on
 * @param suspectAccuracy clean accuracy of the suspect on those rows
 * @param purifiedAccuracy clean accuracy of the output on those rows
 * @param stageSeconds wall time per stage, in order
 * @param totalSeconds wall time of the whole call
 * @param notes anything the reader should know (e.g. no rho within the margin)
 */
public record DefenceReport(
    String inputSha256,
    String outputSha256,
    String pretrainedId,
    String pretrainedSha256,
    String cleanSha256,
    int cleanRows,
    int trainRows,
    int heldOutRows,
    String unlabelledSha256,
    int unlabelledRows,
    int agreementRows,
    int spliceRows,
    DefenceSettings settings,
    double rhoChosen,
    List<RhoTrial> trials,
    List<Epur.Suspect> suspects,
    List<SuspectedTrigger> suspectedTriggers,
    String accuracyRows,
    double suspectAccuracy,
    double purifiedAccuracy,
    Map<String, Double> stageSeconds,
    double totalSeconds,
    List<String> notes) {

  /**
   * One rho tried: accuracy on the scoring rows, agreement with the suspect on held-out unlabelled rows (NaN when
   * none), whether it met the search's bars ({@code within_margin} in JSON: the agreement bar, and the accuracy
   * margin when labelled rows were held out), share of fine-tuned entries kept, wall time.
   */
  public record RhoTrial(double rho, double accuracy, double agreement, boolean withinMargin, double shareKept,
      double seconds) {
    ObjectNode toJson() {
      ObjectNode n = JsonNodeFactory.instance.objectNode();
      if (Double.isNaN(rho)) n.putNull("rho"); else n.put("rho", rho);
      n.put("accuracy", accuracy);
      if (Double.isNaN(agreement)) n.putNull("agreement"); else n.put("agreement", agreement);
      n.put("within_margin", withinMargin);
      n.put("share_kept", shareKept);
      n.put("seconds", seconds);
      return n;
    }
  }

  /**
   * What inserting a candidate trigger into clean rows did to the suspect ({@code TriggerScreen}), for the class the
   * insertions pull most: the share of the rows not in it that the suspect then put in it, their mean probability of
   * it, and the class.
   */
  public record Flip(double share, double pull, int toClass) {
    ObjectNode toJson() {
      ObjectNode n = JsonNodeFactory.instance.objectNode();
      n.put("share", share);
      n.put("pull", pull);
      n.put("class", toClass);
      return n;
    }

    static Flip fromJson(JsonNode n) {
      return new Flip(number(n.get("share")), number(n.get("pull")), n.path("class").asInt(-1));
    }
  }

  /**
   * A trigger string reconstructed from E-PUR's suspected word pieces ({@code TriggerReconstruction}): its pieces
   * (a start piece, then continuation pieces), every order of the continuation pieces that the tokenizer splits
   * back into exactly those pieces ({@code text} is the first; E-PUR cannot see the order), its score (the sum
   * of the pieces' excess over the noise level, in E-PUR units) and, when the candidates were tried on the suspect
   * ({@code trigger_screen}), what its insertions did there (null when they were not).
   */
  public record SuspectedTrigger(String text, List<String> pieces, List<String> orders, double score, Flip flip) {
    public SuspectedTrigger {
      pieces = List.copyOf(pieces);
      orders = List.copyOf(orders);
    }

    /** Not tried on the suspect. */
    public SuspectedTrigger(String text, List<String> pieces, List<String> orders, double score) {
      this(text, pieces, orders, score, null);
    }

    SuspectedTrigger withFlip(Flip f) {
      return new SuspectedTrigger(text, pieces, orders, score, f);
    }

    ObjectNode toJson() {
      ObjectNode n = JsonNodeFactory.instance.objectNode();
      n.put("text", text);
      ArrayNode p = n.putArray("pieces");
      pieces.forEach(p::add);
      ArrayNode o = n.putArray("orders");
      orders.forEach(o::add);
      n.put("score", score);
      if (flip != null) n.set("flip", flip.toJson());
      return n;
    }

    static SuspectedTrigger fromJson(JsonNode n) {
      List<String> pieces = new ArrayList<>();
      n.path("pieces").forEach(x -> pieces.add(x.asText()));
      List<String> orders = new ArrayList<>();
      n.path("orders").forEach(x -> orders.add(x.asText()));
      String text = n.path("text").asText("");
      return new SuspectedTrigger(text, pieces, orders.isEmpty() && !text.isEmpty() ? List.of(text) : orders,
          number(n.get("score")), n.hasNonNull("flip") ? Flip.fromJson(n.get("flip")) : null);
    }
  }

  public DefenceReport {
    trials = List.copyOf(trials);
    suspects = List.copyOf(suspects);
    suspectedTriggers = List.copyOf(suspectedTriggers);
    stageSeconds = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(stageSeconds));
    notes = List.copyOf(notes);
  }

  /** What this purification did with its clean data (derived from the fields above). */
  public CleanDataUse cleanData() {
    return CleanDataUse.of(this);
  }

  private ObjectNode cleanDataJson() {
    CleanDataUse c = cleanData();
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("labelled_rows", c.labelledRows());
    n.put("trained_labelled_rows", c.trainedLabelledRows());
    n.put("held_out_labelled_rows", c.heldOutLabelledRows());
    n.put("unlabelled_rows", c.unlabelledRows());
    n.put("agreement_rows", c.agreementRows());
    n.put("rho_basis", c.rhoBasis().id());
    n.put("recovery_data", c.recoveryData().id());
    ArrayNode l = n.putArray("limits");
    c.limits().forEach(l::add);
    return n;
  }

  public ObjectNode toJson() {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("input_sha256", inputSha256);
    n.put("output_sha256", outputSha256);
    ObjectNode pre = n.putObject("pretrained");
    pre.put("id", pretrainedId);
    pre.put("sha256", pretrainedSha256);
    ObjectNode clean = n.putObject("clean");
    clean.put("sha256", cleanSha256);
    clean.put("rows", cleanRows);
    clean.put("train_rows", trainRows);
    clean.put("held_out_rows", heldOutRows);
    ObjectNode unl = n.putObject("unlabelled");
    unl.put("sha256", unlabelledSha256);
    unl.put("rows", unlabelledRows);
    unl.put("agreement_rows", agreementRows);
    n.put("splice_rows", spliceRows);
    n.set("settings", settings.toJson());
    n.set("clean_data", cleanDataJson());
    if (Double.isNaN(rhoChosen)) n.putNull("rho_chosen"); else n.put("rho_chosen", rhoChosen);
    ArrayNode t = n.putArray("rho_trials");
    trials.forEach(x -> t.add(x.toJson()));
    ArrayNode s = n.putArray("suspected_tokens");
    for (Epur.Suspect x : suspects) {
      ObjectNode o = s.addObject();
      o.put("id", x.id());
      o.put("token", x.token());
      o.put("score", x.score());
      o.put("shift", x.shift());
      o.put("frequency", x.frequency());
    }
    ArrayNode tr = n.putArray("suspected_triggers");
    suspectedTriggers.forEach(x -> tr.add(x.toJson()));
    ObjectNode acc = n.putObject("clean_accuracy");
    acc.put("rows", accuracyRows);
    acc.put("before", suspectAccuracy);
    acc.put("after", purifiedAccuracy);
    ObjectNode st = n.putObject("stage_seconds");
    stageSeconds.forEach(st::put);
    n.put("total_seconds", totalSeconds);
    ArrayNode no = n.putArray("notes");
    notes.forEach(no::add);
    return n;
  }

  /**
   * Reads what {@link #toJson()} writes (the cache keeps reports as JSON). Numbers written as NaN (null, or the
   * string "NaN" after a round trip through a file) read back as NaN; absent keys read as unknown: NaN, 0, "" or
   * empty, and absent settings as {@link DefenceSettings#defaults()}.
   *
   * @throws IllegalArgumentException for settings {@link DefenceSettings#fromJson} refuses
   */
  public static DefenceReport fromJson(JsonNode n) {
    List<RhoTrial> trials = new ArrayList<>();
    n.path("rho_trials").forEach(t -> trials.add(new RhoTrial(number(t.get("rho")), number(t.get("accuracy")),
        number(t.get("agreement")), t.path("within_margin").asBoolean(false), number(t.get("share_kept")),
        number(t.get("seconds")))));
    List<Epur.Suspect> suspects = new ArrayList<>();
    n.path("suspected_tokens").forEach(x -> suspects.add(new Epur.Suspect(x.path("id").asInt(0),
        x.path("token").asText(""), number(x.get("score")), number(x.get("shift")), x.path("frequency").asLong(0))));
    List<SuspectedTrigger> triggers = new ArrayList<>();
    n.path("suspected_triggers").forEach(x -> triggers.add(SuspectedTrigger.fromJson(x)));
    Map<String, Double> stages = new LinkedHashMap<>();
    n.path("stage_seconds").fields().forEachRemaining(e -> stages.put(e.getKey(), number(e.getValue())));
    List<String> notes = new ArrayList<>();
    n.path("notes").forEach(x -> notes.add(x.asText()));
    JsonNode settings = n.get("settings");
    JsonNode clean = n.path("clean");
    JsonNode acc = n.path("clean_accuracy");
    return new DefenceReport(n.path("input_sha256").asText(""), n.path("output_sha256").asText(""),
        n.path("pretrained").path("id").asText(""), n.path("pretrained").path("sha256").asText(""),
        clean.path("sha256").asText(""), clean.path("rows").asInt(0), clean.path("train_rows").asInt(0),
        clean.path("held_out_rows").asInt(0), n.path("unlabelled").path("sha256").asText(""),
        n.path("unlabelled").path("rows").asInt(0), agreementRowsOf(n.path("unlabelled"), trials),
        n.has("splice_rows") ? n.get("splice_rows").asInt(0) : -1,
        settings == null || settings.isNull() ? DefenceSettings.defaults() : DefenceSettings.fromJson(settings),
        number(n.get("rho_chosen")), trials, suspects, triggers, acc.path("rows").asText(""), number(acc.get("before")),
        number(acc.get("after")), stages, number(n.get("total_seconds")), notes);
  }

  /** A report written before {@code agreement_rows} existed: -1 (not recorded) when a trial measured agreement. */
  private static int agreementRowsOf(JsonNode unlabelled, List<RhoTrial> trials) {
    if (unlabelled.has("agreement_rows")) return unlabelled.get("agreement_rows").asInt(0);
    return trials.stream().anyMatch(t -> !Double.isNaN(t.agreement())) ? -1 : 0;
  }

  /**
   * The candidate triggers to show and watch for, at most {@code n}, most suspicious first: the reconstructed trigger
   * strings and E-PUR's tokens in one order, by their evidence over E-PUR's noise level ({@code tau}, half the top
   * suspect's score, as {@code TriggerReconstruction} scores a string: a string's score is its pieces' summed excess
   * over tau, a token's excess is its score minus tau); a string goes before a token of equal evidence. So a
   * word-piece trigger's string (its pieces are the top suspects, and a piece never occurs as a word in a request)
   * leads, and a weak string built on a background piece ({@code ##less}) does not push a clear whole-word trigger
   * down. Distinct.
   */
  public List<String> suspectedStrings(int n) {
    double tau = suspects.isEmpty() ? 0 : suspects.get(0).score() / 2;
    record Candidate(String text, double evidence) {}
    List<Candidate> all = new ArrayList<>();
    for (SuspectedTrigger t : suspectedTriggers) all.add(new Candidate(t.text(), t.score()));
    for (Epur.Suspect s : suspects) all.add(new Candidate(s.token(), s.score() - tau));
    all.sort(java.util.Comparator.comparingDouble(Candidate::evidence).reversed()); // stable: strings first on ties
    java.util.LinkedHashSet<String> out = new java.util.LinkedHashSet<>();
    for (Candidate c : all) if (out.size() < n && c.text() != null) out.add(c.text());
    return List.copyOf(out);
  }

  /** A number as toJson wrote it: a number, null or absent (NaN), or Jackson's string form of NaN / infinity. */
  private static double number(JsonNode v) {
    if (v == null || v.isNull() || v.isMissingNode()) {
      return Double.NaN;
    }
    if (v.isNumber()) {
      return v.asDouble();
    }
    try {
      return Double.parseDouble(v.asText());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("defence report: expected a number, got " + v);
    }
  }

  /** A few lines for people. */
  public String summary() {
    StringBuilder b = new StringBuilder();
    b.append(String.format(Locale.ROOT, "purified with recipe %s (%s%s%s, recovery %s) in %.1f s%n",
        settings.recipe().id(), settings.epur() ? "E-PUR top " + settings.epurTop() + ", " : "",
        settings.mixing() ? "mix " + settings.mix().id() : "no mixing", settings.mixing() && !Double.isNaN(rhoChosen)
            ? String.format(Locale.ROOT, " rho %.2f", rhoChosen) : "", settings.recovery().id(), totalSeconds));
    b.append(String.format(Locale.ROOT, "  input  %s%n  output %s%n  pre-trained %s%n", inputSha256, outputSha256,
        pretrainedId));
    b.append(String.format(Locale.ROOT, "  clean rows %d (trained on %d, held out %d), sha256 %s; unlabelled rows %d%n",
        cleanRows, trainRows, heldOutRows, cleanSha256.substring(0, Math.min(12, cleanSha256.length())),
        unlabelledRows));
    b.append("  ").append(cleanData().line()).append('\n');
    b.append(String.format(Locale.ROOT, "  clean accuracy on %s: before %.3f, after %.3f%n", accuracyRows,
        suspectAccuracy, purifiedAccuracy));
    for (RhoTrial t : trials) {
      b.append(String.format(Locale.ROOT, "  %s: accuracy %.3f%s%s (%.1f s)%n", Double.isNaN(t.rho()) ? "no mixing"
          : String.format(Locale.ROOT, "rho %.2f", t.rho()), t.accuracy(),
          Double.isNaN(t.agreement()) ? "" : String.format(Locale.ROOT, ", agreement %.3f", t.agreement()),
          t.withinMargin() ? ", meets the bar" : "", t.seconds()));
    }
    if (!suspects.isEmpty()) {
      b.append("  suspected tokens:");
      for (int i = 0; i < Math.min(10, suspects.size()); i++) {
        b.append(String.format(Locale.ROOT, " %s (%.3f)", suspects.get(i).token(), suspects.get(i).score()));
      }
      b.append('\n');
    }
    if (!suspectedTriggers.isEmpty()) {
      b.append("  suspected triggers (from word pieces):");
      for (SuspectedTrigger t : suspectedTriggers) {
        b.append(String.format(Locale.ROOT, " %s = %s (%.3f%s)", t.text(), String.join(" ", t.pieces()), t.score(),
            t.flip() == null ? "" : String.format(Locale.ROOT, "; flips %.2f to class %d", t.flip().share(),
                t.flip().toClass())));
      }
      b.append('\n');
    }
    b.append("  stages:");
    stageSeconds.forEach((k, v) -> b.append(String.format(Locale.ROOT, " %s %.1f s", k, v)));
    b.append('\n');
    notes.forEach(x -> b.append("  note: ").append(x).append('\n'));
    return b.toString();
  }
}

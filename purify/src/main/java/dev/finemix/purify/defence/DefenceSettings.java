package dev.finemix.purify.defence;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * Everything that decides what {@link Purifier} does. Build with {@link #builder()}; {@link Builder#recipe} loads a
 * preset (the full defence or one of the baselines) and later calls override single fields. Every value is checked
 * in the constructor and a bad one is named in the message.
 *
 * @param recipe the preset these settings started from (reported; the fields below are what actually runs)
 * @param epur reset the {@code epurTop} most suspicious embedding rows (E-PUR)
 * @param epurTop rows reset by E-PUR
 * @param mixing mix the weights with the pre-trained ones
 * @param mix how the mixing mask is drawn
 * @param rho share of fine-tuned entries kept; {@code NaN} = search {@code rhoGrid}
 * @param rhoGrid rho values tried by the search, smallest first
 * @param margin the search takes the smallest rho whose held-out clean accuracy is at least the suspect's minus this
 * @param holdout share of the labelled rows held out to score each rho (search only; they are not trained on)
 * @param agreementMargin search with distillation: a rho also needs to agree with the suspect's predictions on at
 *     least {@code 1 - agreementMargin} of the held-out unlabelled rows
 * @param agreementRows search with distillation: most unlabelled rows held out for the agreement check (a tenth of
 *     them at most)
 * @param rows labelled clean rows used
 * @param unlabelledRows most unlabelled clean rows used (distillation only)
 * @param recovery how the mixed model is trained back
 * @param perturbations what the student's copy of an unlabelled row gets inserted (distillation only): ids of
 *     {@code suspects}, {@code tokens}, {@code spans}
 * @param suspectsToInsert how many of E-PUR's top tokens the {@code suspects} perturbation draws from
 * @param perturbShare share of distillation rows the student sees perturbed
 * @param variants clean variants (crops, word dropout) of each unlabelled row added to the distillation set, each
 *     with the suspect's own prediction on it as its target ({@code Variants}); 0 = none
 * @param crossPairs for pairs: cross pairs per unlabelled row added to the distillation set: the row's first field with
 *     the second field of the other rows sharing most rare words with it ({@code Variants.crossPairs}), each with
 *     the suspect's prediction on it as its target; single texts get none; 0 = none
 * @param fitAgreement distillation: after a round of {@code epochs}, recovery goes on with another round while the
 *     student agrees with the suspect on fewer than this share of the clean distillation rows (a sign it has not yet
 *     learnt them back); 0 = one round only
 * @param maxRounds most rounds of {@code epochs} that {@code fitAgreement} may run (1 = one round; default 2)
 * @param epochs recovery epochs (of one round)
 * @param batchSize recovery batch size
 * @param lr recovery learning rate of the encoder
 * @param headLr recovery learning rate of the pooler and classifier (the trainer's head, see {@code Trainer.isHead})
 * @param temperature distillation temperature
 * @param featureWeight weight of the feature term of distillation: mean squared difference between the student's
 *     pooled [CLS] features on the (perturbed) row and the suspect's on the clean row; 0 = logits only
 * @param seed every random choice (row sample, masks, perturbations, training order)
 * @param wordFrequencies word-count file for E-PUR; null = every token frequency 0 (rank by shift only)
 */
public record DefenceSettings(
    Recipe recipe,
    boolean epur,
    int epurTop,
    boolean mixing,
    Mixer.Mode mix,
    double rho,
    List<Double> rhoGrid,
    double margin,
    double holdout,
    double agreementMargin,
    int agreementRows,
    int rows,
    int unlabelledRows,
    Recovery recovery,
    List<String> perturbations,
    int suspectsToInsert,
    double perturbShare,
    int variants,
    int crossPairs,
    double fitAgreement,
    int maxRounds,
    int epochs,
    int batchSize,
    double lr,
    double headLr,
    double temperature,
    double featureWeight,
    long seed,
    Path wordFrequencies) {

  /** Presets: the defence and the baselines it is compared with. */
  public enum Recipe {
    /** E-PUR + mixing + distillation of the suspect on unlabelled rows, student sees perturbed rows (default). */
    FINEMIX("finemix"),
    /** the paper's plain recipe: E-PUR + mixing + cross-entropy fine-tuning on the labelled rows. */
    PAPER("paper"),
    /** plain fine-tuning of the suspect on the labelled rows; no E-PUR, no mixing. */
    PLAIN("plain-ft"),
    /** E-PUR reset, then fine-tuning on the labelled rows; no mixing. */
    EPUR_ONLY("epur-only"),
    /** mixing, then fine-tuning on the labelled rows; no E-PUR. */
    MIX_ONLY("mix-only"),
    /** E-PUR + mixing + distillation, no perturbation. */
    DISTIL("distil"),
    /** E-PUR + mixing + distillation with E-PUR's top-20 tokens inserted (the PyTorch reference's best). */
    DISTIL_SUSPECTS("distil-suspects");

    private final String id;

    Recipe(String id) {
      this.id = id;
    }

    public String id() {
      return id;
    }

    public static Recipe parse(String s) {
      for (Recipe r : values()) {
        if (r.id.equalsIgnoreCase(s.trim()) || r.name().equalsIgnoreCase(s.trim())) return r;
      }
      List<String> ids = new ArrayList<>();
      for (Recipe r : values()) ids.add(r.id);
      throw new IllegalArgumentException("unknown recipe '" + s + "'; expected one of " + ids);
    }
  }

  /** How the mixed (or reset) model is trained back. */
  public enum Recovery {
    /** none: the mixed weights are the output */
    NONE,
    /** cross-entropy on the labelled rows */
    CE,
    /** cross-entropy on the labelled rows + the suspect's soft predictions (temperature T) on unlabelled rows */
    DISTIL;

    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }

    public static Recovery parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(Locale.ROOT));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("recovery must be none, ce or distil; got '" + s + "'");
      }
    }
  }

  public static final List<Double> DEFAULT_GRID = List.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9);

  /** Cross pairs per unlabelled pair row in the {@code finemix} recipe (QNLI runs: docs/defence-results.md). */
  static final int CROSS_PAIRS = 3;

  public DefenceSettings {
    Objects.requireNonNull(recipe, "recipe");
    Objects.requireNonNull(mix, "mix");
    Objects.requireNonNull(recovery, "recovery");
    if (epurTop < 0) throw new IllegalArgumentException("epurTop must be >= 0, got " + epurTop);
    if (!Double.isNaN(rho) && !(rho >= 0 && rho <= 1)) {
      throw new IllegalArgumentException("rho must be in [0, 1] or auto, got " + rho);
    }
    rhoGrid = List.copyOf(Objects.requireNonNull(rhoGrid, "rhoGrid"));
    if (rhoGrid.isEmpty()) throw new IllegalArgumentException("rhoGrid must not be empty");
    for (int i = 0; i < rhoGrid.size(); i++) {
      double r = rhoGrid.get(i);
      if (!(r > 0 && r <= 1)) throw new IllegalArgumentException("rhoGrid value must be in (0, 1], got " + r);
      if (i > 0 && r <= rhoGrid.get(i - 1)) {
        throw new IllegalArgumentException("rhoGrid must ascend, got " + rhoGrid);
      }
    }
    if (!(margin >= 0 && margin <= 1)) throw new IllegalArgumentException("margin must be in [0, 1], got " + margin);
    if (!(holdout > 0 && holdout < 1)) throw new IllegalArgumentException("holdout must be in (0, 1), got " + holdout);
    if (!(agreementMargin >= 0 && agreementMargin <= 1)) {
      throw new IllegalArgumentException("agreementMargin must be in [0, 1], got " + agreementMargin);
    }
    if (agreementRows < 0) throw new IllegalArgumentException("agreementRows must be >= 0, got " + agreementRows);
    if (rows < 2) throw new IllegalArgumentException("rows must be >= 2, got " + rows);
    if (unlabelledRows < 0) throw new IllegalArgumentException("unlabelledRows must be >= 0, got " + unlabelledRows);
    perturbations = List.copyOf(Objects.requireNonNull(perturbations, "perturbations"));
    for (String p : perturbations) Perturber.Kind.parse(p);
    if (suspectsToInsert < 0) {
      throw new IllegalArgumentException("suspectsToInsert must be >= 0, got " + suspectsToInsert);
    }
    if (!(perturbShare >= 0 && perturbShare <= 1)) {
      throw new IllegalArgumentException("perturbShare must be in [0, 1], got " + perturbShare);
    }
    if (variants < 0 || variants > 20) {
      throw new IllegalArgumentException("variants must be in [0, 20], got " + variants);
    }
    if (crossPairs < 0 || crossPairs > 20) {
      throw new IllegalArgumentException("crossPairs must be in [0, 20], got " + crossPairs);
    }
    if (!(fitAgreement >= 0 && fitAgreement <= 1)) {
      throw new IllegalArgumentException("fitAgreement must be in [0, 1], got " + fitAgreement);
    }
    if (maxRounds < 1 || maxRounds > 10) {
      throw new IllegalArgumentException("maxRounds must be in [1, 10], got " + maxRounds);
    }
    if (epochs < 0) throw new IllegalArgumentException("epochs must be >= 0, got " + epochs);
    if (batchSize < 1) throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
    if (!(lr > 0 && lr < 1)) throw new IllegalArgumentException("lr must be in (0, 1), got " + lr);
    if (!(headLr > 0 && headLr < 1)) throw new IllegalArgumentException("headLr must be in (0, 1), got " + headLr);
    if (!(temperature > 0 && temperature <= 100)) {
      throw new IllegalArgumentException("temperature must be in (0, 100], got " + temperature);
    }
    if (!(featureWeight >= 0) || Double.isInfinite(featureWeight)) {
      throw new IllegalArgumentException("featureWeight must be >= 0, got " + featureWeight);
    }
  }

  public static DefenceSettings defaults() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder().recipe(Recipe.FINEMIX);
  }

  public Builder toBuilder() {
    Builder b = new Builder();
    b.recipe = recipe;
    b.epur = epur;
    b.epurTop = epurTop;
    b.mixing = mixing;
    b.mix = mix;
    b.rho = rho;
    b.rhoGrid = rhoGrid;
    b.margin = margin;
    b.holdout = holdout;
    b.agreementMargin = agreementMargin;
    b.agreementRows = agreementRows;
    b.rows = rows;
    b.unlabelledRows = unlabelledRows;
    b.recovery = recovery;
    b.perturbations = perturbations;
    b.suspectsToInsert = suspectsToInsert;
    b.perturbShare = perturbShare;
    b.variants = variants;
    b.crossPairs = crossPairs;
    b.fitAgreement = fitAgreement;
    b.maxRounds = maxRounds;
    b.epochs = epochs;
    b.batchSize = batchSize;
    b.lr = lr;
    b.headLr = headLr;
    b.temperature = temperature;
    b.featureWeight = featureWeight;
    b.seed = seed;
    b.wordFrequencies = wordFrequencies;
    return b;
  }

  public boolean autoRho() {
    return mixing && Double.isNaN(rho);
  }

  public ObjectNode toJson() {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("recipe", recipe.id());
    n.put("epur", epur);
    n.put("epur_top", epurTop);
    n.put("mixing", mixing);
    n.put("mix", mix.id());
    if (Double.isNaN(rho)) n.put("rho", "auto"); else n.put("rho", rho);
    ArrayNode g = n.putArray("rho_grid");
    rhoGrid.forEach(g::add);
    n.put("margin", margin);
    n.put("holdout", holdout);
    n.put("agreement_margin", agreementMargin);
    n.put("agreement_rows", agreementRows);
    n.put("rows", rows);
    n.put("unlabelled_rows", unlabelledRows);
    n.put("recovery", recovery.id());
    ArrayNode p = n.putArray("perturbations");
    perturbations.forEach(p::add);
    n.put("suspects_to_insert", suspectsToInsert);
    n.put("perturb_share", perturbShare);
    n.put("variants", variants);
    n.put("cross_pairs", crossPairs);
    n.put("fit_agreement", fitAgreement);
    n.put("max_rounds", maxRounds);
    n.put("epochs", epochs);
    n.put("batch_size", batchSize);
    n.put("lr", lr);
    n.put("head_lr", headLr);
    n.put("temperature", temperature);
    n.put("feature_weight", featureWeight);
    n.put("seed", seed);
    n.put("word_frequencies", wordFrequencies == null ? null : wordFrequencies.toString());
    return n;
  }

  /**
   * Reads the keys {@link #toJson()} writes (any subset): {@code recipe} is applied first, then every other key
   * overrides it. {@code rho} is a number or {@code "auto"}. An unknown key or a value of the wrong type is an
   * {@link IllegalArgumentException} naming it.
   */
  public static DefenceSettings fromJson(com.fasterxml.jackson.databind.JsonNode n) {
    if (n == null || n.isNull()) return defaults();
    if (!n.isObject()) throw new IllegalArgumentException("defence settings must be a JSON object, got " + n);
    Builder b = builder();
    if (n.has("recipe")) b.recipe(Recipe.parse(text(n, "recipe")));
    for (var it = n.fields(); it.hasNext(); ) {
      var e = it.next();
      String k = e.getKey();
      var v = e.getValue();
      switch (k) {
        case "recipe" -> { }
        case "epur" -> b.epur(bool(k, v));
        case "epur_top" -> b.epurTop(integer(k, v));
        case "mixing" -> b.mixing(bool(k, v));
        case "mix" -> b.mix(Mixer.Mode.parse(v.asText()));
        case "rho" -> {
          if (v.isTextual() && v.asText().trim().equalsIgnoreCase("auto")) b.autoRho();
          else b.rho(number(k, v));
        }
        case "rho_grid" -> {
          if (!v.isArray()) throw new IllegalArgumentException("rho_grid must be an array of numbers, got " + v);
          List<Double> g = new ArrayList<>();
          v.forEach(x -> g.add(number(k, x)));
          b.rhoGrid(g);
        }
        case "margin" -> b.margin(number(k, v));
        case "holdout" -> b.holdout(number(k, v));
        case "agreement_margin" -> b.agreementMargin(number(k, v));
        case "agreement_rows" -> b.agreementRows(integer(k, v));
        case "rows" -> b.rows(integer(k, v));
        case "unlabelled_rows" -> b.unlabelledRows(integer(k, v));
        case "recovery" -> b.recovery(Recovery.parse(v.asText()));
        case "perturbations" -> {
          if (!v.isArray()) throw new IllegalArgumentException("perturbations must be an array of names, got " + v);
          List<String> p = new ArrayList<>();
          v.forEach(x -> p.add(x.asText()));
          b.perturbations(p);
        }
        case "suspects_to_insert" -> b.suspectsToInsert(integer(k, v));
        case "perturb_share" -> b.perturbShare(number(k, v));
        case "variants" -> b.variants(integer(k, v));
        case "cross_pairs" -> b.crossPairs(integer(k, v));
        case "fit_agreement" -> b.fitAgreement(number(k, v));
        case "max_rounds" -> b.maxRounds(integer(k, v));
        case "epochs" -> b.epochs(integer(k, v));
        case "batch_size" -> b.batchSize(integer(k, v));
        case "lr" -> b.lr(number(k, v));
        case "head_lr" -> b.headLr(number(k, v));
        case "temperature" -> b.temperature(number(k, v));
        case "feature_weight" -> b.featureWeight(number(k, v));
        case "seed" -> b.seed(v.asLong());
        case "word_frequencies" -> b.wordFrequencies(v.isNull() ? null : Path.of(v.asText()));
        default -> throw new IllegalArgumentException("unknown defence setting '" + k + "'");
      }
    }
    return b.build();
  }

  private static String text(com.fasterxml.jackson.databind.JsonNode n, String k) {
    return n.get(k).asText();
  }

  private static double number(String k, com.fasterxml.jackson.databind.JsonNode v) {
    if (!v.isNumber()) throw new IllegalArgumentException(k + " must be a number, got " + v);
    return v.asDouble();
  }

  private static int integer(String k, com.fasterxml.jackson.databind.JsonNode v) {
    if (!v.canConvertToInt() || !v.isIntegralNumber()) {
      throw new IllegalArgumentException(k + " must be an integer, got " + v);
    }
    return v.asInt();
  }

  private static boolean bool(String k, com.fasterxml.jackson.databind.JsonNode v) {
    if (!v.isBoolean()) throw new IllegalArgumentException(k + " must be true or false, got " + v);
    return v.asBoolean();
  }

  /** Mutable builder; {@link #build()} validates. */
  public static final class Builder {
    private Recipe recipe;
    private boolean epur;
    private int epurTop = 200;
    private boolean mixing;
    private Mixer.Mode mix = Mixer.Mode.RANDOM;
    private double rho = Double.NaN;
    private List<Double> rhoGrid = DEFAULT_GRID;
    private double margin = 0.05;
    private double holdout = 0.25;
    private double agreementMargin = 0.10;
    private int agreementRows = 100;
    private int rows = 64;
    private int unlabelledRows = 1000;
    private Recovery recovery;
    private List<String> perturbations = List.of();
    private int suspectsToInsert = 20;
    private double perturbShare = 1.0;
    private int variants = 0;
    private int crossPairs = 0;
    private double fitAgreement = 0; // off: measured on QNLI, a second round gave +0.9 and -0.8 points over two seeds
    private int maxRounds = 2;
    private int epochs;
    private int batchSize;
    private double lr = 5e-5;
    private double headLr = 5e-5;
    private double temperature = 2.0;
    private double featureWeight = 0.0;
    private long seed = 42;
    private Path wordFrequencies;

    private Builder() {}

    /** Loads a preset: which stages run, the recovery and its epochs / batch size / perturbations. */
    public Builder recipe(Recipe r) {
      recipe = Objects.requireNonNull(r, "recipe");
      switch (r) {
        case FINEMIX -> stages(true, true, Recovery.DISTIL, 3, 32, List.of("suspects", "tokens", "spans"));
        case PAPER -> stages(true, true, Recovery.CE, 10, 16, List.of());
        case PLAIN -> stages(false, false, Recovery.CE, 10, 16, List.of());
        case EPUR_ONLY -> stages(true, false, Recovery.CE, 10, 16, List.of());
        case MIX_ONLY -> stages(false, true, Recovery.CE, 10, 16, List.of());
        case DISTIL -> stages(true, true, Recovery.DISTIL, 3, 32, List.of());
        case DISTIL_SUSPECTS -> stages(true, true, Recovery.DISTIL, 3, 32, List.of("suspects"));
        default -> throw new IllegalStateException(r.toString());
      }
      return this;
    }

    private void stages(boolean e, boolean m, Recovery rec, int ep, int bs, List<String> pert) {
      variants = recipe == Recipe.FINEMIX ? 3 : 0;
      crossPairs = recipe == Recipe.FINEMIX ? CROSS_PAIRS : 0;
      epur = e;
      mixing = m;
      recovery = rec;
      epochs = ep;
      batchSize = bs;
      perturbations = pert;
    }

    public Builder epur(boolean v) { epur = v; return this; }
    public Builder epurTop(int v) { epurTop = v; return this; }
    public Builder mixing(boolean v) { mixing = v; return this; }
    public Builder mix(Mixer.Mode v) { mix = v; return this; }
    /** A fixed rho; {@code Double.NaN} for the search. */
    public Builder rho(double v) { rho = v; return this; }
    public Builder autoRho() { rho = Double.NaN; return this; }
    public Builder rhoGrid(List<Double> v) { rhoGrid = v; return this; }
    public Builder margin(double v) { margin = v; return this; }
    public Builder holdout(double v) { holdout = v; return this; }
    public Builder agreementMargin(double v) { agreementMargin = v; return this; }
    public Builder agreementRows(int v) { agreementRows = v; return this; }
    public Builder rows(int v) { rows = v; return this; }
    public Builder unlabelledRows(int v) { unlabelledRows = v; return this; }
    public Builder recovery(Recovery v) { recovery = v; return this; }
    public Builder perturbations(List<String> v) { perturbations = v; return this; }
    public Builder suspectsToInsert(int v) { suspectsToInsert = v; return this; }
    public Builder perturbShare(double v) { perturbShare = v; return this; }
    public Builder variants(int v) { variants = v; return this; }
    public Builder crossPairs(int v) { crossPairs = v; return this; }
    public Builder fitAgreement(double v) { fitAgreement = v; return this; }
    public Builder maxRounds(int v) { maxRounds = v; return this; }
    public Builder epochs(int v) { epochs = v; return this; }
    public Builder batchSize(int v) { batchSize = v; return this; }
    public Builder lr(double v) { lr = v; return this; }
    public Builder headLr(double v) { headLr = v; return this; }
    public Builder temperature(double v) { temperature = v; return this; }
    public Builder featureWeight(double v) { featureWeight = v; return this; }
    public Builder seed(long v) { seed = v; return this; }
    public Builder wordFrequencies(Path v) { wordFrequencies = v; return this; }

    public DefenceSettings build() {
      return new DefenceSettings(recipe, epur, epurTop, mixing, mix, rho, rhoGrid, margin, holdout, agreementMargin,
          agreementRows, rows, unlabelledRows, recovery, perturbations, suspectsToInsert, perturbShare, variants,
          crossPairs, fitAgreement, maxRounds, epochs, batchSize, lr, headLr, temperature, featureWeight, seed,
          wordFrequencies);
    }
  }
}

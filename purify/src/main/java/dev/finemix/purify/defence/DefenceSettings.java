package dev.finemix.purify.defence;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.BiFunction;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Everything that decides what {@link Purifier} does; immutable. Build with {@link #builder()}:
 * {@link Builder#recipe} loads a preset (the full defence or one of the baselines) and later calls override single
 * settings. Every setter checks its value and a bad one is named in the message (Caffeine's {@code requireArgument}).
 *
 * <p>The settings are one table, the {@code Field} rows below in JSON order: each row holds a setting's JSON key,
 * how it is read and written, its default and its check, and its comment says what it means. {@link #toJson},
 * {@link #fromJson}, the defaults, the checks, equals and hashCode all walk the table, so a new setting is a row
 * plus its accessor and its setter, both named as the key in camelCase ({@code epur_top}: {@code epurTop()}).
 * The canonical JSON ({@link #toJson}: every key, defaults filled) is what the server's cache key hashes, so keys,
 * defaults and number forms must not change ({@code DefenceSettingsTest} pins them).
 */
public final class DefenceSettings {

  /** Presets: the defence and the baselines it is compared with. */
  public enum Recipe {
    /** E-PUR + mixing + distillation of the suspect on unlabelled rows, student sees perturbed rows (default). */
    FINEMIX("finemix", b -> b.distil(List.of("suspects", "tokens", "spans")).variants(3).crossPairs(CROSS_PAIRS)),
    /**
     * the paper's plain recipe: E-PUR + mixing + cross-entropy fine-tuning on the labelled rows, rho searched as the
     * paper does (the smallest rho of 0.1..0.9 whose held-out clean accuracy is within the margin of the suspect's,
     * else the most accurate).
     */
    PAPER("paper", b -> paperRho(b.epur(true).mixing(true))),
    /** plain fine-tuning of the suspect on the labelled rows; no E-PUR, no mixing. */
    PLAIN("plain-ft", b -> { }),
    /** E-PUR reset, then fine-tuning on the labelled rows; no mixing. */
    EPUR_ONLY("epur-only", b -> b.epur(true)),
    /** mixing, then fine-tuning on the labelled rows; no E-PUR. */
    MIX_ONLY("mix-only", b -> paperRho(b.mixing(true))),
    /** E-PUR + mixing + distillation, no perturbation. */
    DISTIL("distil", b -> b.distil(List.of())),
    /** E-PUR + mixing + distillation with E-PUR's top-20 tokens inserted (the PyTorch reference's best). */
    DISTIL_SUSPECTS("distil-suspects", b -> b.distil(List.of("suspects"))),
    /**
     * Fine-purifying (Zhang et al., ACL Findings 2023): reset the {@code fp_reset} share of dimensions whose
     * fine-tuning update is largest against the clean data's curvature, then fine-tune on the labelled rows.
     */
    FINE_PURIFYING("fine-purifying", b -> b.finePurifying(true));

    private final String id;
    /** What the recipe changes on the baseline of the preset rows (the plain-ft values). */
    private final Consumer<Builder> preset;

    Recipe(String id, Consumer<Builder> preset) {
      this.id = id;
      this.preset = preset;
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
  /** Which rho trial {@code rho = auto} takes when none meets the bars. */
  public enum RhoFallback {
    /** the smallest rho of the grid: keeps the least of the suspect (the finemix default) */
    SMALLEST,
    /** the most accurate on the held-out labelled rows (the paper's selection by clean accuracy) */
    MOST_ACCURATE;

    public String id() {
      return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    public static RhoFallback parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(Locale.ROOT).replace('-', '_'));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("rho_fallback must be smallest or most-accurate; got '" + s + "'");
      }
    }
  }

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

  /**
   * The search's grid: capped at 0.5, because a higher rho keeps more of the backdoor and the search's signal (100
   * held-out agreement rows) is too noisy to justify it (docs/defence-results.md, "How rho is chosen").
   */
  public static final List<Double> DEFAULT_GRID = List.of(0.1, 0.2, 0.3, 0.4, 0.5);

  /**
   * The paper's rho rule for the cross-entropy recipes that mix: a quarter of the labelled rows held out, the full
   * grid, the most accurate trial when none is within the margin (as main did before issue 20.2). Without it (the finemix default: no held-out labelled rows, agreement on unlabelled rows) a recipe that
   * does not distil has nothing to judge rho by and takes 0.1, which cost the paper recipe 26-27 points of CACC.
   */
  static final List<Double> PAPER_GRID = List.of(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9);

  private static Builder paperRho(Builder b) {
    return b.holdout(0.25).rhoGrid(PAPER_GRID).rhoFallback(RhoFallback.MOST_ACCURATE);
  }

  /** Cross pairs per unlabelled pair row in the {@code finemix} recipe (QNLI runs: docs/defence-results.md). */
  static final int CROSS_PAIRS = 3;

  // codecs: the node types are the ones ObjectNode.put chose before the table, so the JSON text is unchanged
  private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

  private static final Codec<Boolean> BOOL = new Codec<>(JSON::booleanNode, (k, v) -> {
    requireArgument(v.isBoolean(), k + " must be true or false, got " + v);
    return v.asBoolean();
  });
  private static final Codec<Integer> INT = new Codec<>(v -> JSON.numberNode((int) v), (k, v) -> {
    requireArgument(v.isIntegralNumber() && v.canConvertToInt(), k + " must be an integer, got " + v);
    return v.asInt();
  });
  private static final Codec<Long> LONG = new Codec<>(v -> JSON.numberNode((long) v), (k, v) -> {
    requireArgument(v.isIntegralNumber() && v.canConvertToLong(), k + " must be an integer, got " + v);
    return v.asLong();
  });
  private static final Codec<Double> NUMBER = new Codec<>(v -> JSON.numberNode((double) v), DefenceSettings::number);
  /** rho: a number, or "auto" (NaN) for the search */
  private static final Codec<Double> RHO_CODEC = new Codec<>(
      v -> Double.isNaN(v) ? JSON.textNode("auto") : JSON.numberNode((double) v),
      (k, v) -> v.isTextual() && v.asText().trim().equalsIgnoreCase("auto") ? Double.NaN : number(k, v));
  private static final Codec<List<Double>> NUMBERS = list("numbers", JSON::numberNode, DefenceSettings::number);
  private static final Codec<List<String>> NAMES = list("names", JSON::textNode, (k, x) -> x.asText());
  private static final Codec<Path> PATH = new Codec<>(v -> JSON.textNode(v.toString()), (k, v) -> Path.of(v.asText()));

  // ---- the table (declared before its rows: each row adds itself in declaration order, which is the JSON order)
  private static final List<Field<?>> FIELDS = new ArrayList<>();
  private static final Map<String, Field<?>> BY_KEY = new LinkedHashMap<>();

  /** the preset these settings started from (reported; the other rows are what actually runs) */
  private static final Field<Recipe> RECIPE = field("recipe", text(Recipe::id, Recipe::parse), Recipe.FINEMIX, any());
  /** reset the {@code epurTop} most suspicious embedding rows (E-PUR) */
  private static final Field<Boolean> EPUR = preset("epur", BOOL, false, any());
  /** rows reset by E-PUR */
  private static final Field<Integer> EPUR_TOP = field("epur_top", INT, 200, atLeast(0));
  /** mix the weights with the pre-trained ones */
  private static final Field<Boolean> MIXING = preset("mixing", BOOL, false, any());
  /** how the mixing mask is drawn */
  private static final Field<Mixer.Mode> MIX = field("mix", text(Mixer.Mode::id, Mixer.Mode::parse), Mixer.Mode.RANDOM,
      any());
  /** share of fine-tuned entries kept; {@code NaN} (JSON {@code "auto"}) = search {@code rhoGrid} */
  private static final Field<Double> RHO = field("rho", RHO_CODEC, Double.NaN,
      (n, v) -> requireArgument(Double.isNaN(v) || v >= 0 && v <= 1, n + " must be in [0, 1] or auto, got " + v));
  /** rho values tried by the search, smallest first */
  private static final Field<List<Double>> RHO_GRID = field("rho_grid", NUMBERS, DEFAULT_GRID,
      DefenceSettings::checkGrid);
  /**
   * with {@code holdout > 0}, the search also needs a rho's held-out clean accuracy to be at least the suspect's minus
   * this; the server's utility gate uses it on the report's accuracies
   */
  private static final Field<Double> MARGIN = field("margin", NUMBER, 0.05, within(0, true, 1, true));
  /**
   * share of the labelled rows held out to score each rho (search only; they are not trained on); 0 (default) = none:
   * 16 of 64 rows cannot see a 1-2 point loss (one row is 6 points) and cost the recovery a quarter of its labels
   */
  private static final Field<Double> HOLDOUT = field("holdout", NUMBER, 0.0, within(0, true, 1, false));
  /**
   * search with distillation: the smallest rho whose predictions agree with the suspect's on at least
   * {@code 1 - agreementMargin} of the held-out unlabelled rows is taken (the suspect is right on most clean rows,
   * so a purified model that disagrees more is losing clean accuracy); if none does, the smallest rho
   */
  private static final Field<Double> AGREEMENT_MARGIN = field("agreement_margin", NUMBER, 0.10,
      within(0, true, 1, true));
  /** search with distillation: most unlabelled rows held out for the agreement check (a tenth of them at most) */
  private static final Field<Integer> AGREEMENT_ROWS = field("agreement_rows", INT, 100, atLeast(0));
  /** labelled clean rows used */
  private static final Field<Integer> ROWS = field("rows", INT, 64, atLeast(2));
  /** most unlabelled clean rows used (distillation only) */
  private static final Field<Integer> UNLABELLED_ROWS = field("unlabelled_rows", INT, 1000, atLeast(0));
  /** how the mixed model is trained back */
  private static final Field<Recovery> RECOVERY = preset("recovery", text(Recovery::id, Recovery::parse), Recovery.CE,
      any());
  /**
   * what the student's copy of an unlabelled row gets inserted (distillation only): ids of {@code suspects},
   * {@code tokens}, {@code spans}
   */
  private static final Field<List<String>> PERTURBATIONS = preset("perturbations", NAMES, List.of(),
      (n, v) -> v.forEach(Perturber.Kind::parse));
  /** how many of E-PUR's top tokens the {@code suspects} perturbation draws from */
  private static final Field<Integer> SUSPECTS_TO_INSERT = field("suspects_to_insert", INT, 20, atLeast(0));
  /** share of distillation rows the student sees perturbed */
  private static final Field<Double> PERTURB_SHARE = field("perturb_share", NUMBER, 1.0, within(0, true, 1, true));
  /**
   * clean variants (crops, word dropout) of each unlabelled row added to the distillation set, each with the
   * suspect's own prediction on it as its target ({@code Variants}); 0 = none
   */
  private static final Field<Integer> VARIANTS = preset("variants", INT, 0, within(0, 20));
  /**
   * for pairs: cross pairs per unlabelled row added to the distillation set: the row's first field with the second
   * field of the other rows sharing most rare words with it ({@code Variants.crossPairs}), each with the suspect's
   * prediction on it as its target; single texts get none; 0 = none
   */
  private static final Field<Integer> CROSS_PAIRS_FIELD = preset("cross_pairs", INT, 0, within(0, 20));
  /**
   * distillation: after a round of {@code epochs}, recovery goes on with another round while the student agrees with
   * the suspect on fewer than this share of the clean distillation rows (a sign it has not yet learnt them back);
   * 0 = one round only. Off by default: measured on QNLI, a second round gave +0.9 and -0.8 points over two seeds.
   */
  private static final Field<Double> FIT_AGREEMENT = field("fit_agreement", NUMBER, 0.0, within(0, true, 1, true));
  /** most rounds of {@code epochs} that {@code fitAgreement} may run (1 = one round) */
  private static final Field<Integer> MAX_ROUNDS = field("max_rounds", INT, 2, within(1, 10));
  /** recovery epochs (of one round) */
  private static final Field<Integer> EPOCHS = preset("epochs", INT, 10, atLeast(0));
  /** recovery batch size */
  private static final Field<Integer> BATCH_SIZE = preset("batch_size", INT, 16, atLeast(1));
  /** recovery learning rate of the encoder */
  private static final Field<Double> LR = field("lr", NUMBER, 5e-5, within(0, false, 1, false));
  /** recovery learning rate of the pooler and classifier (the trainer's head, see {@code Trainer.isHead}) */
  private static final Field<Double> HEAD_LR = field("head_lr", NUMBER, 5e-5, within(0, false, 1, false));
  /** distillation temperature */
  private static final Field<Double> TEMPERATURE = field("temperature", NUMBER, 2.0, within(0, false, 100, true));
  /**
   * weight of the feature term of distillation: mean squared difference between the student's pooled [CLS] features
   * on the (perturbed) row and the suspect's on the clean row; 0 = logits only
   */
  private static final Field<Double> FEATURE_WEIGHT = field("feature_weight", NUMBER, 0.0,
      (n, v) -> requireArgument(v >= 0 && !Double.isInfinite(v), n + " must be >= 0, got " + v));
  /** every random choice (row sample, masks, perturbations, training order) */
  private static final Field<Long> SEED = field("seed", LONG, 42L, any());
  /** word-count file for E-PUR; null = every token frequency 0 (rank by shift only) */
  private static final Field<Path> WORD_FREQUENCIES = optional("word_frequencies", PATH);
  /**
   * Fine-purifying's reset stage ({@code FinePurifying}): rank every dimension that has a pre-trained counterpart by
   * {@code (w_FT - w_Pre)^2 / (Fisher diagonal of the clean loss at w_FT + eps)} and reset the top {@code fp_reset}
   * share to w_Pre. Written to JSON only when on, so the older recipes' canonical JSON (the cache keys) is unchanged.
   */
  private static final Field<Boolean> FINE_PURIFYING_FIELD = later("fine_purifying", BOOL, false, true,
      any());
  /** share of the ranked dimensions Fine-purifying resets (written only when not the default) */
  private static final Field<Double> FP_RESET = later("fp_reset", NUMBER, 0.3, false,
      within(0, true, 1, true));
  /**
   * which trial {@code rho = auto} takes when none meets the bars (written only when not the default, so the older
   * recipes' canonical JSON is unchanged)
   */
  private static final Field<RhoFallback> RHO_FALLBACK = later("rho_fallback",
      text(RhoFallback::id, RhoFallback::parse), RhoFallback.SMALLEST, true, any());
  /**
   * trigger strings rebuilt from suspected word pieces (one per piece set) that are tried on the suspect
   * ({@code TriggerScreen}): the ones that pull it most are the ones the perturbation inserts and the report lists;
   * 0 = none tried, the reconstruction's own order (written only when on, so the older recipes' canonical JSON is
   * unchanged)
   */
  private static final Field<Integer> TRIGGER_SCREEN = later("trigger_screen", INT, 0, true, within(0, 200));
  // ---- end of the table

  /** One value per row of the table, by {@link Field#index}. */
  private final Object[] values;

  private DefenceSettings(Object[] values) {
    this.values = values;
  }

  public static DefenceSettings defaults() {
    return builder().build();
  }

  /** The {@link Recipe#FINEMIX} recipe with every other default. */
  public static Builder builder() {
    Object[] v = new Object[FIELDS.size()];
    for (Field<?> f : FIELDS) v[f.index] = f.initial;
    return new Builder(v).recipe(Recipe.FINEMIX);
  }

  public Builder toBuilder() {
    return new Builder(values.clone());
  }

  public Recipe recipe() { return get(RECIPE); }
  public boolean epur() { return get(EPUR); }
  public int epurTop() { return get(EPUR_TOP); }
  public boolean mixing() { return get(MIXING); }
  public Mixer.Mode mix() { return get(MIX); }
  public double rho() { return get(RHO); }
  public List<Double> rhoGrid() { return get(RHO_GRID); }
  public double margin() { return get(MARGIN); }
  public double holdout() { return get(HOLDOUT); }
  public double agreementMargin() { return get(AGREEMENT_MARGIN); }
  public int agreementRows() { return get(AGREEMENT_ROWS); }

  /**
   * The agreement bar of the rho search and of the server's utility gate: {@code agreement} (with the suspect, on
   * held-out clean unlabelled rows) is at least {@code 1 - agreementMargin}; a value not measured (NaN) meets it.
   */
  public boolean meetsAgreementBar(double agreement) {
    return Double.isNaN(agreement) || agreement >= 1 - agreementMargin() - 1e-9;
  }
  public int rows() { return get(ROWS); }
  public int unlabelledRows() { return get(UNLABELLED_ROWS); }
  public Recovery recovery() { return get(RECOVERY); }
  public List<String> perturbations() { return get(PERTURBATIONS); }
  public int suspectsToInsert() { return get(SUSPECTS_TO_INSERT); }
  public int triggerScreen() { return get(TRIGGER_SCREEN); }
  public double perturbShare() { return get(PERTURB_SHARE); }
  public int variants() { return get(VARIANTS); }
  public int crossPairs() { return get(CROSS_PAIRS_FIELD); }
  public double fitAgreement() { return get(FIT_AGREEMENT); }
  public int maxRounds() { return get(MAX_ROUNDS); }
  public int epochs() { return get(EPOCHS); }
  public int batchSize() { return get(BATCH_SIZE); }
  public double lr() { return get(LR); }
  public double headLr() { return get(HEAD_LR); }
  public double temperature() { return get(TEMPERATURE); }
  public double featureWeight() { return get(FEATURE_WEIGHT); }
  public long seed() { return get(SEED); }
  public Path wordFrequencies() { return get(WORD_FREQUENCIES); }
  public boolean finePurifying() { return get(FINE_PURIFYING_FIELD); }
  public RhoFallback rhoFallback() { return get(RHO_FALLBACK); }
  public double fpReset() { return get(FP_RESET); }

  /** Mixing with rho searched over {@link #rhoGrid()}. */
  public boolean autoRho() {
    return mixing() && Double.isNaN(rho());
  }

  /** Every setting, in table order: the canonical form (the server hashes it, sorted, into the cache key). */
  public ObjectNode toJson() {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    for (Field<?> f : FIELDS) {
      if (!f.quiet || !Objects.equals(get(f), f.initial)) n.set(f.key, write(f));
    }
    return n;
  }

  /**
   * Reads the keys {@link #toJson()} writes (any subset; null = the defaults): {@code recipe} is applied first, then
   * every other key overrides it. {@code rho} is a number or {@code "auto"}. An unknown key or a value of the wrong
   * type or range is an {@link IllegalArgumentException} naming it.
   */
  public static DefenceSettings fromJson(JsonNode n) {
    if (n == null || n.isNull()) return defaults();
    if (!n.isObject()) throw new IllegalArgumentException("defence settings must be a JSON object, got " + n);
    Builder b = builder();
    if (n.has(RECIPE.key)) b.recipe(RECIPE.read(n.get(RECIPE.key)));
    for (var it = n.fields(); it.hasNext(); ) {
      var e = it.next();
      Field<?> f = BY_KEY.get(e.getKey());
      if (f == null) throw new IllegalArgumentException("unknown defence setting '" + e.getKey() + "'");
      if (f != RECIPE) b.read(f, e.getValue());
    }
    return b.build();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof DefenceSettings s && Arrays.equals(values, s.values);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(values);
  }

  @Override
  public String toString() {
    return "DefenceSettings" + toJson();
  }

  @SuppressWarnings("unchecked")
  private <T> T get(Field<T> f) {
    return (T) values[f.index];
  }

  private <T> JsonNode write(Field<T> f) {
    T v = get(f);
    return v == null ? JsonNodeFactory.instance.nullNode() : f.codec.writer.apply(v);
  }

  /** Mutable; each setter checks its value, {@link #build()} takes a copy. */
  public static final class Builder {
    private final Object[] values;

    private Builder(Object[] values) {
      this.values = values;
    }

    /** Loads a preset: the rows marked preset go back to the plain-ft baseline, then the recipe sets its own. */
    public Builder recipe(Recipe r) {
      set(RECIPE, r);
      for (Field<?> f : FIELDS) {
        if (f.preset) values[f.index] = f.initial;
      }
      r.preset.accept(this);
      return this;
    }

    public Builder epur(boolean v) { return set(EPUR, v); }
    public Builder epurTop(int v) { return set(EPUR_TOP, v); }
    public Builder mixing(boolean v) { return set(MIXING, v); }
    public Builder mix(Mixer.Mode v) { return set(MIX, v); }
    /** A fixed rho; {@code Double.NaN} for the search. */
    public Builder rho(double v) { return set(RHO, v); }
    public Builder autoRho() { return set(RHO, Double.NaN); }
    public Builder rhoGrid(List<Double> v) { return set(RHO_GRID, v); }
    public Builder margin(double v) { return set(MARGIN, v); }
    public Builder holdout(double v) { return set(HOLDOUT, v); }
    public Builder agreementMargin(double v) { return set(AGREEMENT_MARGIN, v); }
    public Builder agreementRows(int v) { return set(AGREEMENT_ROWS, v); }
    public Builder rows(int v) { return set(ROWS, v); }
    public Builder unlabelledRows(int v) { return set(UNLABELLED_ROWS, v); }
    public Builder recovery(Recovery v) { return set(RECOVERY, v); }
    public Builder perturbations(List<String> v) { return set(PERTURBATIONS, v); }
    public Builder suspectsToInsert(int v) { return set(SUSPECTS_TO_INSERT, v); }
    public Builder triggerScreen(int v) { return set(TRIGGER_SCREEN, v); }
    public Builder perturbShare(double v) { return set(PERTURB_SHARE, v); }
    public Builder variants(int v) { return set(VARIANTS, v); }
    public Builder crossPairs(int v) { return set(CROSS_PAIRS_FIELD, v); }
    public Builder fitAgreement(double v) { return set(FIT_AGREEMENT, v); }
    public Builder maxRounds(int v) { return set(MAX_ROUNDS, v); }
    public Builder epochs(int v) { return set(EPOCHS, v); }
    public Builder batchSize(int v) { return set(BATCH_SIZE, v); }
    public Builder lr(double v) { return set(LR, v); }
    public Builder headLr(double v) { return set(HEAD_LR, v); }
    public Builder temperature(double v) { return set(TEMPERATURE, v); }
    public Builder featureWeight(double v) { return set(FEATURE_WEIGHT, v); }
    public Builder seed(long v) { return set(SEED, v); }
    /** null: no word counts (E-PUR ranks by shift only). */
    public Builder wordFrequencies(Path v) { return set(WORD_FREQUENCIES, v); }
    public Builder finePurifying(boolean v) { return set(FINE_PURIFYING_FIELD, v); }
    public Builder rhoFallback(RhoFallback v) { return set(RHO_FALLBACK, v); }
    public Builder fpReset(double v) { return set(FP_RESET, v); }

    public DefenceSettings build() {
      return new DefenceSettings(values.clone());
    }

    /** The distillation recipes' common stages. */
    private Builder distil(List<String> perturbations) {
      return epur(true).mixing(true).recovery(Recovery.DISTIL).epochs(3).batchSize(32).perturbations(perturbations);
    }

    private <T> Builder set(Field<T> f, T v) {
      if (v == null) {
        requireArgument(f.optional, f.name + " must not be null");
      } else {
        f.check.check(f.name, v);
      }
      values[f.index] = v instanceof List<?> l ? List.copyOf(l) : v; // lists: immutable copies
      return this;
    }

    private <T> void read(Field<T> f, JsonNode v) {
      set(f, v.isNull() && f.optional ? null : f.read(v));
    }
  }

  // ---- the table's parts

  /**
   * One setting.
   *
   * @param index its slot in {@link #values}
   * @param key its JSON key
   * @param name the key in camelCase: its accessor and setter, and what messages call it
   * @param initial the default; for preset rows, the plain-ft baseline a {@link Recipe} starts from
   * @param preset whether a recipe sets it ({@link Builder#recipe})
   * @param optional whether null is allowed
   * @param quiet written to JSON only when not {@code initial}: settings added after the cache key was pinned, so
   *     that settings which do not use them keep their canonical JSON
   */
  private record Field<T>(int index, String key, String name, Codec<T> codec, T initial, boolean preset,
      boolean optional, boolean quiet, Check<T> check) {
    T read(JsonNode v) {
      return codec.reader.apply(key, v);
    }
  }

  /** How a setting's value is written to and read from JSON (the reader gets the key for its messages). */
  private record Codec<T>(Function<T, JsonNode> writer, BiFunction<String, JsonNode, T> reader) {
  }

  /** Throws an IllegalArgumentException naming the setting ({@code name}) and the bad value. */
  @FunctionalInterface
  private interface Check<T> {
    void check(String name, T value);
  }

  private static <T> Field<T> field(String key, Codec<T> codec, T initial, Check<T> check) {
    return add(key, codec, initial, false, false, false, check);
  }

  private static <T> Field<T> preset(String key, Codec<T> codec, T baseline, Check<T> check) {
    return add(key, codec, baseline, true, false, false, check);
  }

  /** A setting added after the canonical JSON was pinned: written only when not {@code initial}. */
  private static <T> Field<T> later(String key, Codec<T> codec, T initial, boolean preset, Check<T> check) {
    return add(key, codec, initial, preset, false, true, check);
  }

  private static <T> Field<T> optional(String key, Codec<T> codec) {
    return add(key, codec, null, false, true, false, any());
  }

  private static <T> Field<T> add(String key, Codec<T> codec, T initial, boolean preset, boolean optional,
      boolean quiet, Check<T> check) {
    Field<T> f = new Field<>(FIELDS.size(), key, camelCase(key), codec, initial, preset, optional, quiet, check);
    FIELDS.add(f);
    BY_KEY.put(key, f);
    return f;
  }

  private static String camelCase(String key) {
    StringBuilder s = new StringBuilder();
    for (String part : key.split("_")) {
      s.append(s.length() == 0 ? part : Character.toUpperCase(part.charAt(0)) + part.substring(1));
    }
    return s.toString();
  }

  /** A JSON array of {@code what}, each element read and written as given. */
  private static <T> Codec<List<T>> list(String what, Function<T, JsonNode> write, BiFunction<String, JsonNode, T> read) {
    return new Codec<>(v -> {
      ArrayNode a = JSON.arrayNode();
      v.forEach(x -> a.add(write.apply(x)));
      return a;
    }, (k, v) -> {
      requireArgument(v.isArray(), k + " must be an array of " + what + ", got " + v);
      List<T> out = new ArrayList<>();
      v.forEach(x -> out.add(read.apply(k, x)));
      return out;
    });
  }

  /** An enum written as its id. */
  private static <T> Codec<T> text(Function<T, String> id, Function<String, T> parse) {
    return new Codec<>(v -> JSON.textNode(id.apply(v)), (k, v) -> parse.apply(v.asText()));
  }

  private static double number(String k, JsonNode v) {
    requireArgument(v.isNumber(), k + " must be a number, got " + v);
    return v.asDouble();
  }

  // checks
  private static <T> Check<T> any() {
    return (n, v) -> { };
  }

  private static Check<Integer> atLeast(int min) {
    return (n, v) -> requireArgument(v >= min, n + " must be >= " + min + ", got " + v);
  }

  private static Check<Integer> within(int lo, int hi) {
    return (n, v) -> requireArgument(v >= lo && v <= hi, n + " must be in [" + lo + ", " + hi + "], got " + v);
  }

  /** lo..hi, each end closed or open; NaN never passes. */
  private static Check<Double> within(int lo, boolean loClosed, int hi, boolean hiClosed) {
    String range = (loClosed ? "[" : "(") + lo + ", " + hi + (hiClosed ? "]" : ")");
    return (n, v) -> requireArgument((loClosed ? v >= lo : v > lo) && (hiClosed ? v <= hi : v < hi),
        n + " must be in " + range + ", got " + v);
  }

  private static void checkGrid(String n, List<Double> grid) {
    requireArgument(!grid.isEmpty(), n + " must not be empty");
    for (int i = 0; i < grid.size(); i++) {
      double r = Objects.requireNonNull(grid.get(i), n);
      requireArgument(r > 0 && r <= 1, n + " value must be in (0, 1], got " + r);
      requireArgument(i == 0 || r > grid.get(i - 1), n + " must ascend, got " + grid);
    }
  }

  private static void requireArgument(boolean ok, String message) {
    if (!ok) throw new IllegalArgumentException(message);
  }
}

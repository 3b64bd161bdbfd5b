package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class DefenceSettingsTest {

  @Test
  void defaults_areTheFullDefence() {
    DefenceSettings s = DefenceSettings.defaults();
    assertThat(s.recipe()).isEqualTo(DefenceSettings.Recipe.FINEMIX);
    assertThat(s.epur()).isTrue();
    assertThat(s.mixing()).isTrue();
    assertThat(s.autoRho()).isTrue();
    assertThat(s.rows()).isEqualTo(64);
    assertThat(s.epurTop()).isEqualTo(200);
    assertThat(s.recovery()).isEqualTo(DefenceSettings.Recovery.DISTIL);
    assertThat(s.fitAgreement()).isZero(); // one round unless asked
    assertThat(s.maxRounds()).isEqualTo(2);
  }

  @Test
  void recipes_setTheirStages_andLaterCallsOverride() {
    DefenceSettings plain = DefenceSettings.builder().recipe(DefenceSettings.Recipe.PLAIN).build();
    assertThat(plain.epur()).isFalse();
    assertThat(plain.mixing()).isFalse();
    assertThat(plain.autoRho()).isFalse();
    assertThat(plain.recovery()).isEqualTo(DefenceSettings.Recovery.CE);
    DefenceSettings paper = DefenceSettings.builder().recipe(DefenceSettings.Recipe.PAPER).epochs(3).rho(0.3).build();
    assertThat(paper.epochs()).isEqualTo(3);
    assertThat(paper.rho()).isEqualTo(0.3);
    assertThat(DefenceSettings.Recipe.parse("mix-only")).isEqualTo(DefenceSettings.Recipe.MIX_ONLY);
    assertThatThrownBy(() -> DefenceSettings.Recipe.parse("magic")).hasMessageContaining("magic")
        .hasMessageContaining("paper");
  }

  @Test
  void badValues_areNamed() {
    assertThatThrownBy(() -> DefenceSettings.builder().rho(1.5).build()).hasMessageContaining("rho")
        .hasMessageContaining("1.5");
    assertThatThrownBy(() -> DefenceSettings.builder().rows(1).build()).hasMessageContaining("rows");
    assertThatThrownBy(() -> DefenceSettings.builder().rhoGrid(List.of(0.5, 0.3)).build())
        .hasMessageContaining("ascend");
    assertThatThrownBy(() -> DefenceSettings.builder().perturbations(List.of("dance")).build())
        .hasMessageContaining("dance");
    assertThatThrownBy(() -> DefenceSettings.builder().epurTop(-1).build()).hasMessageContaining("-1");
    assertThatThrownBy(() -> DefenceSettings.builder().fitAgreement(1.2).build()).hasMessageContaining("fitAgreement")
        .hasMessageContaining("1.2");
    assertThatThrownBy(() -> DefenceSettings.builder().maxRounds(0).build()).hasMessageContaining("maxRounds");
    assertThatThrownBy(() -> DefenceSettings.builder().crossPairs(-1).build()).hasMessageContaining("crossPairs");
  }

  @Test
  void toJson_recordsEverySetting() {
    var j = DefenceSettings.builder().rho(0.2).mix(Mixer.Mode.SEL).build().toJson();
    assertThat(j.get("rho").asDouble()).isEqualTo(0.2);
    assertThat(j.get("mix").asText()).isEqualTo("sel");
    assertThat(j.get("recipe").asText()).isEqualTo("finemix");
    assertThat(j.get("perturbations")).hasSize(3);
    assertThat(DefenceSettings.defaults().toJson().get("rho").asText()).isEqualTo("auto");
    assertThat(j.size()).isEqualTo(29);
    assertThat(j.get("cross_pairs").asInt()).isEqualTo(DefenceSettings.CROSS_PAIRS);
    assertThat(DefenceSettings.builder().recipe(DefenceSettings.Recipe.PAPER).build().crossPairs()).isZero();
    assertThat(j.get("fit_agreement").asDouble()).isEqualTo(0.0);
    assertThat(j.get("max_rounds").asInt()).isEqualTo(2);
    assertThat(j.get("feature_weight").asDouble()).isEqualTo(0.0);
  }

  @Test
  void fromJson_roundTripsToJson_andAppliesRecipeFirst() throws Exception {
    DefenceSettings s = DefenceSettings.builder().recipe(DefenceSettings.Recipe.PAPER).rho(0.25).epochs(4)
        .mix(Mixer.Mode.SEL).seed(9).fitAgreement(0.9).maxRounds(3).build();
    assertThat(DefenceSettings.fromJson(s.toJson())).isEqualTo(s);
    var om = new com.fasterxml.jackson.databind.ObjectMapper();
    DefenceSettings p = DefenceSettings.fromJson(om.readTree("{\"epochs\": 2, \"recipe\": \"plain-ft\"}"));
    assertThat(p.recipe()).isEqualTo(DefenceSettings.Recipe.PLAIN);
    assertThat(p.epochs()).isEqualTo(2);
    assertThat(DefenceSettings.fromJson(om.readTree("{\"rho\": \"auto\"}")).autoRho()).isTrue();
    assertThatThrownBy(() -> DefenceSettings.fromJson(om.readTree("{\"rhoo\": 1}"))).hasMessageContaining("rhoo");
    assertThatThrownBy(() -> DefenceSettings.fromJson(om.readTree("{\"rows\": \"many\"}")))
        .hasMessageContaining("rows");
  }

  /**
   * The defaults' JSON, as main wrote it before the field table (10cc67b) except for the rho search's defaults of
   * issue 20.2 (grid to 0.5, no labelled hold-out: every default purification re-purifies once, on purpose). The cache
   * key hashes this JSON (keys sorted, CacheKey), so a changed key, default or number form here orphans every cached
   * entry.
   */
  static final String DEFAULT_JSON = "{\"recipe\":\"finemix\",\"epur\":true,\"epur_top\":200,\"mixing\":true,"
      + "\"mix\":\"random\",\"rho\":\"auto\",\"rho_grid\":[0.1,0.2,0.3,0.4,0.5],\"margin\":0.05,"
      + "\"holdout\":0.0,\"agreement_margin\":0.1,\"agreement_rows\":100,\"rows\":64,\"unlabelled_rows\":1000,"
      + "\"recovery\":\"distil\",\"perturbations\":[\"suspects\",\"tokens\",\"spans\"],\"suspects_to_insert\":20,"
      + "\"perturb_share\":1.0,\"variants\":3,\"cross_pairs\":3,\"fit_agreement\":0.0,\"max_rounds\":2,\"epochs\":3,"
      + "\"batch_size\":32,\"lr\":5.0E-5,\"head_lr\":5.0E-5,\"temperature\":2.0,\"feature_weight\":0.0,\"seed\":42,"
      + "\"word_frequencies\":null}";

  /** What each recipe's JSON changes against {@link #DEFAULT_JSON}, as main wrote it (10cc67b). */
  static final Map<String, String> RECIPE_CHANGES = Map.of(
      "finemix", "{}",
      // paper and mix-only: the paper's rho rule (DefenceSettings.paperRho), since a12c363
      "paper", "{\"rho_grid\":[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9],\"holdout\":0.25,\"recovery\":\"ce\",\"perturbations\":[],"
          + "\"variants\":0,\"cross_pairs\":0,\"epochs\":10,\"batch_size\":16,\"rho_fallback\":\"most-accurate\"}",
      "plain-ft", "{\"epur\":false,\"mixing\":false,\"recovery\":\"ce\",\"perturbations\":[],\"variants\":0,"
          + "\"cross_pairs\":0,\"epochs\":10,\"batch_size\":16}",
      "epur-only", "{\"mixing\":false,\"recovery\":\"ce\",\"perturbations\":[],\"variants\":0,\"cross_pairs\":0,"
          + "\"epochs\":10,\"batch_size\":16}",
      "mix-only", "{\"epur\":false,\"rho_grid\":[0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9],\"holdout\":0.25,\"recovery\":\"ce\","
          + "\"perturbations\":[],\"variants\":0,\"cross_pairs\":0,\"epochs\":10,\"batch_size\":16,"
          + "\"rho_fallback\":\"most-accurate\"}",
      "distil", "{\"perturbations\":[],\"variants\":0,\"cross_pairs\":0}",
      "distil-suspects", "{\"perturbations\":[\"suspects\"],\"variants\":0,\"cross_pairs\":0}",
      // issue 19: the only recipe that writes fine_purifying (a setting added after the pin: written when on)
      "fine-purifying", "{\"epur\":false,\"mixing\":false,\"recovery\":\"ce\",\"perturbations\":[],\"variants\":0,"
          + "\"cross_pairs\":0,\"epochs\":10,\"batch_size\":16,\"fine_purifying\":true}");

  @Test
  void finePurifying_fromJson_readsTheRecipeAndTheShare_writesTheShareOnlyWhenSet() throws Exception {
    ObjectMapper om = new ObjectMapper();
    DefenceSettings s = DefenceSettings.fromJson(om.readTree("{\"recipe\":\"fine-purifying\",\"fp_reset\":0.2}"));
    assertThat(s.recipe()).isEqualTo(DefenceSettings.Recipe.FINE_PURIFYING);
    assertThat(s.finePurifying()).isTrue();
    assertThat(s.fpReset()).isEqualTo(0.2);
    assertThat(s.recovery()).isEqualTo(DefenceSettings.Recovery.CE);
    assertThat(DefenceSettings.fromJson(s.toJson())).isEqualTo(s);
    assertThat(s.toJson().get("fp_reset").asDouble()).isEqualTo(0.2);
    assertThat(DefenceSettings.defaults().toJson().has("fp_reset")).isFalse();
    assertThatThrownBy(() -> DefenceSettings.builder().fpReset(1.5)).hasMessage("fpReset must be in [0, 1], got 1.5");
  }

  @Test
  void defaultJson_isWhatMainWrote() {
    assertThat(DefenceSettings.defaults().toJson().toString()).isEqualTo(DEFAULT_JSON);
    assertThat(DefenceSettings.fromJson(null).toJson().toString()).isEqualTo(DEFAULT_JSON);
  }

  @Test
  void recipeJson_isWhatMainWrote() throws Exception {
    ObjectMapper om = new ObjectMapper();
    assertThat(RECIPE_CHANGES).hasSameSizeAs(DefenceSettings.Recipe.values());
    for (DefenceSettings.Recipe r : DefenceSettings.Recipe.values()) {
      ObjectNode expected = (ObjectNode) om.readTree(DEFAULT_JSON);
      expected.put("recipe", r.id());
      expected.setAll((ObjectNode) om.readTree(RECIPE_CHANGES.get(r.id())));
      assertThat(DefenceSettings.builder().recipe(r).build().toJson().toString()).as(r.id())
          .isEqualTo(expected.toString());
    }
  }

  @Test
  void setJson_keepsEachNumberForm() throws Exception {
    var om = new ObjectMapper();
    String in = "{\"rho\":0.3,\"seed\":9000000000,\"lr\":1e-4,\"word_frequencies\":\"/data/wf.tsv\"}";
    ObjectNode j = DefenceSettings.fromJson(om.readTree(in)).toJson();
    assertThat(j.get("rho").toString()).isEqualTo("0.3");
    assertThat(j.get("seed").toString()).isEqualTo("9000000000");
    assertThat(j.get("lr").toString()).isEqualTo("1.0E-4");
    assertThat(j.get("word_frequencies").asText()).isEqualTo("/data/wf.tsv");
  }

  @Test
  void setter_badValue_throwsAtOnceNamingIt() {
    var b = DefenceSettings.builder();
    assertThatThrownBy(() -> b.rho(1.5)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("rho must be in [0, 1] or auto, got 1.5");
    assertThatThrownBy(() -> b.holdout(1.0)).hasMessage("holdout must be in [0, 1), got 1.0");
    assertThatThrownBy(() -> b.temperature(Double.NaN)).hasMessage("temperature must be in (0, 100], got NaN");
    assertThatThrownBy(() -> b.variants(21)).hasMessage("variants must be in [0, 20], got 21");
    assertThatThrownBy(() -> b.batchSize(0)).hasMessage("batchSize must be >= 1, got 0");
    assertThatThrownBy(() -> b.mix(null)).hasMessage("mix must not be null");
    assertThat(b.build()).isEqualTo(DefenceSettings.defaults()); // the refused values left the builder as it was
  }

  @Test
  void fromJson_wrongType_namesTheKey() throws Exception {
    var om = new ObjectMapper();
    assertThatThrownBy(() -> DefenceSettings.fromJson(om.readTree("{\"seed\": \"7\"}")))
        .hasMessage("seed must be an integer, got \"7\"");
    assertThatThrownBy(() -> DefenceSettings.fromJson(om.readTree("{\"epochs\": 2.5}")))
        .hasMessage("epochs must be an integer, got 2.5");
    assertThatThrownBy(() -> DefenceSettings.fromJson(om.readTree("{\"epur\": 1}")))
        .hasMessage("epur must be true or false, got 1");
    assertThatThrownBy(() -> DefenceSettings.fromJson(om.readTree("{\"rho_grid\": 0.5}")))
        .hasMessage("rho_grid must be an array of numbers, got 0.5");
    assertThatThrownBy(() -> DefenceSettings.fromJson(om.readTree("{\"max_rounds\": 11}")))
        .hasMessage("maxRounds must be in [1, 10], got 11");
    assertThat(DefenceSettings.fromJson(om.readTree("{\"word_frequencies\": null}")).wordFrequencies()).isNull();
  }

  @Test
  void recipe_resetsOnlyItsStages_andToBuilderCopies() {
    DefenceSettings s = DefenceSettings.builder().epochs(7).rows(12).recipe(DefenceSettings.Recipe.PAPER).build();
    assertThat(s.epochs()).isEqualTo(10); // a stage: the recipe sets it
    assertThat(s.rows()).isEqualTo(12); // not a stage: kept
    DefenceSettings.Builder b = s.toBuilder().seed(5);
    assertThat(s.seed()).isEqualTo(42);
    assertThat(b.build().seed()).isEqualTo(5);
    assertThat(b.build()).isNotEqualTo(s).isEqualTo(DefenceSettings.fromJson(b.build().toJson()));
  }
}

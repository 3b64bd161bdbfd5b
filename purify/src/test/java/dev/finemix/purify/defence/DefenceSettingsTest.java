package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
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
}

package dev.finemix.purify.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class PretrainedTest {
  @Test
  void minilm_loadsFromTheMavenArtifact_withHuggingFaceNamesAndLayout() {
    Pretrained p = Pretrained.load(Pretrained.MINILM);
    assertThat(p.config().hiddenSize()).isEqualTo(384);
    assertThat(p.weights().size()).isEqualTo(103); // 5 embedding + 6 layers x 16 + 2 pooler
    assertThat(p.weights().parameterCount()).isEqualTo(22_713_216L);
    assertThat(p.weights().names()).allMatch(n -> n.startsWith("bert."));
    assertThat(p.weights().get("bert.encoder.layer.0.intermediate.dense.weight").shape()).containsExactly(1536, 384);
    assertThat(p.weights().get("bert.encoder.layer.5.output.dense.weight").shape()).containsExactly(384, 1536);
    assertThat(p.tokenizerJson()).exists();
    assertThat(p.weightsSha256()).hasSize(64);
    assertThat(Pretrained.load(Pretrained.MINILM)).isSameAs(p);
  }

  @Test
  void load_unknownId_isAClearError() {
    assertThatThrownBy(() -> Pretrained.load("no/such-model")).isInstanceOf(WeightsException.class)
        .hasMessageContaining("unknown pre-trained model");
  }
}

package dev.finemix.purify.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

  /** The 12-layer catalogue entries: 5 embedding + 12 x 16 tensors (their exports have no pooler). */
  @ParameterizedTest
  @ValueSource(strings = {Pretrained.BGE_SMALL, Pretrained.E5_SMALL})
  void twelveLayerBase_loadsFromItsMavenArtifact(String id) {
    Pretrained p = Pretrained.load(id);
    assertThat(p.id()).isEqualTo(id);
    assertThat(p.config().numLayers()).isEqualTo(12);
    assertThat(p.weights().size()).isEqualTo(5 + 12 * 16);
    assertThat(p.weights().names()).noneMatch(n -> n.startsWith(BertTensors.POOLER));
    assertThat(p.weights().parameterCount()).isEqualTo(33_212_160L);
    assertThat(p.weights().get("bert.encoder.layer.11.output.dense.weight").shape()).containsExactly(384, 1536);
    assertThat(p.tokenizerJson()).exists();
    assertThat(Pretrained.load(Pretrained.catalogued(id).orElseThrow().alias())).isSameAs(p); // one copy per base
  }

  @Test
  void catalogue_listsMiniLmFirst_andEachBaseOnce() {
    assertThat(Pretrained.catalogue()).extracting(Pretrained.Base::id)
        .containsExactly(Pretrained.MINILM, Pretrained.BGE_SMALL, Pretrained.E5_SMALL);
    assertThat(Pretrained.catalogued("bge-small-en-v1.5")).map(Pretrained.Base::id).contains(Pretrained.BGE_SMALL);
    assertThat(Pretrained.catalogued("bert-base-uncased")).isEmpty();
  }

  @Test
  void load_unknownId_isAClearError() {
    assertThatThrownBy(() -> Pretrained.load("no/such-model")).isInstanceOf(WeightsException.class)
        .hasMessageContaining("unknown pre-trained model");
  }

  /** Any BERT-family ONNX graph serves as a base, with its config.json and tokenizer.json beside it. */
  @Test
  void onnxFile_withConfigAndTokenizerBesideIt_loadsAsTheSameWeights(@TempDir Path dir) throws Exception {
    Pretrained mini = Pretrained.load(Pretrained.MINILM);
    Path onnx = dir.resolve("encoder.onnx");
    Files.write(onnx, Pretrained.onnx(Pretrained.MINILM));
    assertThatThrownBy(() -> Pretrained.load(onnx.toString())).isInstanceOf(WeightsException.class)
        .hasMessageContaining("needs config.json beside it");
    new ObjectMapper().writeValue(dir.resolve("config.json").toFile(), mini.config().toJson());
    assertThatThrownBy(() -> Pretrained.load(onnx.toString())).isInstanceOf(WeightsException.class)
        .hasMessageContaining("needs tokenizer.json beside it");
    Files.copy(mini.tokenizerJson(), dir.resolve("tokenizer.json"));

    Pretrained p = Pretrained.load(onnx.toString());
    assertThat(p.id()).isEqualTo(onnx.toAbsolutePath().normalize().toString());
    assertThat(p.config().numLayers()).isEqualTo(6);
    assertThat(p.weights().names()).isEqualTo(mini.weights().names());
    for (String n : mini.weights().names()) {
      // Arrays.equals, not containsExactly: AssertJ's element diff is quadratic on 12M floats
      assertThat(java.util.Arrays.equals(p.weights().get(n).data(), mini.weights().get(n).data())).as(n).isTrue();
    }
    assertThat(p.weightsSha256()).isEqualTo(mini.weightsSha256());
  }

  @Test
  void onnxFile_whoseConfigDoesNotFitTheGraph_isRefusedNamingWhatItCouldNotMap(@TempDir Path dir) throws Exception {
    Path onnx = dir.resolve("encoder.onnx");
    Files.write(onnx, Pretrained.onnx(Pretrained.MINILM));
    Files.copy(Pretrained.load(Pretrained.MINILM).tokenizerJson(), dir.resolve("tokenizer.json"));
    // the 6-layer graph described as a 12-layer one
    new ObjectMapper().writeValue(dir.resolve("config.json").toFile(),
        Pretrained.load(Pretrained.BGE_SMALL).config().toJson());
    assertThatThrownBy(() -> Pretrained.load(onnx.toString())).isInstanceOf(WeightsException.class)
        .hasMessageContaining(onnx.toString()).hasMessageContaining("missing [encoder.layer.6.attention.self.query.weight");
    Files.writeString(dir.resolve("config.json"), "{not json");
    assertThatThrownBy(() -> Pretrained.load(onnx.toString())).isInstanceOf(WeightsException.class)
        .hasMessageContaining("config.json");
  }
}

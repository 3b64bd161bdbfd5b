package dev.finemix.purify.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** config.json is read strictly: bounded dimensions, integral numbers, messages that name the field and value. */
class BertConfigTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** A valid tiny config.json with {@code field} set to the raw JSON {@code value}. */
  static ObjectNode configWith(String field, String value) throws Exception {
    ObjectNode n = (ObjectNode) TinyModels.config(2).toJson();
    n.remove(field);
    String text = n.toString();
    return (ObjectNode) JSON.readTree("{\"" + field + "\": " + value + ", " + text.substring(1));
  }

  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource(delimiter = '|', quoteCharacter = '`', value = {
      "num_hidden_layers       | 1000000      | num_hidden_layers 1000000 is out of range (1..48)",
      "num_hidden_layers       | 0            | num_hidden_layers 0 is out of range (1..48)",
      "intermediate_size       | 4e9          | intermediate_size 4000000000 is out of range (1..65536)",
      "intermediate_size       | 4.0e9        | intermediate_size 4000000000 is out of range (1..65536)",
      "intermediate_size       | 1e999        | intermediate_size must be an integer, got",
      "vocab_size              | -1           | vocab_size -1 is out of range (1..1000000)",
      "vocab_size              | 30522.5      | vocab_size must be an integer, got 30522.5",
      "hidden_size             | `\"32\"`     | hidden_size must be an integer, got \"32\"",
      "hidden_size             | null         | hidden_size must be an integer, got null",
      "hidden_size             | 9000         | hidden_size 9000 is out of range (1..8192)",
      "num_attention_heads     | 5            | hidden_size 32 is not a multiple of num_attention_heads 5",
      "max_position_embeddings | 100000       | max_position_embeddings 100000 is out of range (1..8192)",
      "type_vocab_size         | 1000         | type_vocab_size 1000 is out of range (1..16)",
      "layer_norm_eps          | `\"tiny\"`   | layer_norm_eps must be a number, got \"tiny\"",
      "hidden_dropout_prob     | 1.5          | hidden_dropout_prob must be in [0, 1), got 1.5",
  })
  void fromJson_hostileValue_isRefusedNamingFieldAndValue(String field, String value, String message)
      throws Exception {
    ObjectNode n = configWith(field, value);
    assertThatThrownBy(() -> BertConfig.fromJson(n)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith(message);
  }

  @ParameterizedTest(name = "model_type {0}")
  @CsvSource(delimiter = '|', value = {
      "distilbert  | DistilBERT has no token-type embeddings or pooler",
      "roberta     | RoBERTa-style models offset position ids",
      "xlm-roberta | RoBERTa-style models offset position ids",
      "deberta-v2  | DeBERTa uses disentangled relative-position attention",
      "gpt2        | it is not a BERT-family encoder this sidecar implements",
  })
  void fromJson_otherEncoderFamily_isRefusedWithItsReasonAndWhatIsSupported(String type, String reason)
      throws Exception {
    ObjectNode n = configWith("model_type", "\"" + type + "\"");
    assertThatThrownBy(() -> BertConfig.fromJson(n)).isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("model_type '" + type + "' is not supported: " + reason)
        .hasMessageContaining("Supported: [bert] (BERT-family encoders such as all-MiniLM-L6-v2, bge-small-en-v1.5");
  }

  @Test
  void fromJson_hugeNumLabels_isRefusedBeforeMakingTheLabels() throws Exception {
    ObjectNode n = (ObjectNode) TinyModels.config(2).toJson();
    n.remove("id2label");
    n.remove("label2id");
    n.put("num_labels", 2_000_000_000);
    assertThatThrownBy(() -> BertConfig.fromJson(n)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("num_labels 2000000000 is out of range (1..1024)");
  }

  @Test
  void fromJson_requiredFieldAbsent_saysWhichOne() {
    ObjectNode n = (ObjectNode) TinyModels.config(2).toJson();
    n.remove("intermediate_size");
    assertThatThrownBy(() -> BertConfig.fromJson(n))
        .hasMessage("config.json lacks the integer field 'intermediate_size'");
  }

  @Test
  void fromJson_integralNumberWrittenWithExponent_isThatInteger() throws Exception {
    assertThat(BertConfig.fromJson(configWith("intermediate_size", "6.4e1")).intermediateSize()).isEqualTo(64);
    assertThat(BertConfig.fromJson(configWith("hidden_size", "32.0")).hiddenSize()).isEqualTo(32);
    assertThat(BertConfig.fromJson(configWith("num_hidden_layers", "2")))
        .isEqualTo(TinyModels.config(2));
  }

  @Test
  void constructor_boundsApplyToConfigsBuiltInCode() {
    assertThatThrownBy(() -> new BertConfig(30522, 32, 49, 4, 64, 128, 2, 1e-12, 0.1, 0.1, java.util.List.of()))
        .hasMessage("num_hidden_layers 49 is out of range (1..48)");
  }
}

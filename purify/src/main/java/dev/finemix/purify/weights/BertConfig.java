package dev.finemix.purify.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The shape of a BERT classifier, read from and written to a Hugging Face {@code config.json}.
 *
 * @param labels label names in id order ({@code id2label}); empty for a bare encoder
 */
public record BertConfig(
    int vocabSize,
    int hiddenSize,
    int numLayers,
    int numHeads,
    int intermediateSize,
    int maxPositions,
    int typeVocabSize,
    double layerNormEps,
    double hiddenDropout,
    double attentionDropout,
    List<String> labels) {

  private static final ObjectMapper JSON = new ObjectMapper();

  public BertConfig {
    requirePositive("vocab_size", vocabSize);
    requirePositive("hidden_size", hiddenSize);
    requirePositive("num_hidden_layers", numLayers);
    requirePositive("num_attention_heads", numHeads);
    requirePositive("intermediate_size", intermediateSize);
    requirePositive("max_position_embeddings", maxPositions);
    requirePositive("type_vocab_size", typeVocabSize);
    if (hiddenSize % numHeads != 0) {
      throw new IllegalArgumentException(
          "hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + numHeads);
    }
    if (!(layerNormEps > 0)) {
      throw new IllegalArgumentException("layer_norm_eps must be > 0, got " + layerNormEps);
    }
    requireProbability("hidden_dropout_prob", hiddenDropout);
    requireProbability("attention_probs_dropout_prob", attentionDropout);
    labels = List.copyOf(labels == null ? List.of() : labels);
  }

  /** all-MiniLM-L6-v2's encoder shape. */
  public static BertConfig miniLm() {
    return new BertConfig(30522, 384, 6, 12, 1536, 512, 2, 1e-12, 0.1, 0.1, List.of());
  }

  public int numLabels() {
    return labels.size();
  }

  public int headSize() {
    return hiddenSize / numHeads;
  }

  public BertConfig withLabels(List<String> newLabels) {
    return new BertConfig(vocabSize, hiddenSize, numLayers, numHeads, intermediateSize, maxPositions,
        typeVocabSize, layerNormEps, hiddenDropout, attentionDropout, newLabels);
  }

  /** Reads a Hugging Face BertConfig JSON object; absent optional fields take BERT's defaults. */
  public static BertConfig fromJson(JsonNode n) {
    if (n == null || !n.isObject()) {
      throw new IllegalArgumentException("config.json is not a JSON object");
    }
    String type = n.path("model_type").asText("bert");
    if (!type.equals("bert")) {
      throw new IllegalArgumentException("model_type '" + type + "' is not supported (only 'bert')");
    }
    String act = n.path("hidden_act").asText("gelu");
    if (!act.equals("gelu")) {
      throw new IllegalArgumentException("hidden_act '" + act + "' is not supported (only 'gelu')");
    }
    List<String> labels = new ArrayList<>();
    JsonNode id2label = n.get("id2label");
    if (id2label != null && id2label.isObject()) {
      Map<Integer, String> byId = new TreeMap<>();
      for (Iterator<Map.Entry<String, JsonNode>> it = id2label.fields(); it.hasNext(); ) {
        Map.Entry<String, JsonNode> e = it.next();
        try {
          byId.put(Integer.parseInt(e.getKey()), e.getValue().asText());
        } catch (NumberFormatException ex) {
          throw new IllegalArgumentException("id2label key '" + e.getKey() + "' is not an integer");
        }
      }
      int expect = 0;
      for (Map.Entry<Integer, String> e : byId.entrySet()) {
        if (e.getKey() != expect++) {
          throw new IllegalArgumentException("id2label ids are not 0..K-1: " + byId.keySet());
        }
        labels.add(e.getValue());
      }
    } else if (n.has("num_labels")) {
      for (int i = 0; i < n.get("num_labels").asInt(); i++) {
        labels.add("LABEL_" + i);
      }
    }
    return new BertConfig(
        requiredInt(n, "vocab_size"),
        requiredInt(n, "hidden_size"),
        requiredInt(n, "num_hidden_layers"),
        requiredInt(n, "num_attention_heads"),
        requiredInt(n, "intermediate_size"),
        n.path("max_position_embeddings").asInt(512),
        n.path("type_vocab_size").asInt(2),
        n.path("layer_norm_eps").asDouble(1e-12),
        n.path("hidden_dropout_prob").asDouble(0.1),
        n.path("attention_probs_dropout_prob").asDouble(0.1),
        labels);
  }

  /** Writes the fields {@code transformers} needs to load this as {@code BertForSequenceClassification}. */
  public ObjectNode toJson() {
    ObjectNode n = JSON.createObjectNode();
    n.putArray("architectures").add("BertForSequenceClassification");
    n.put("model_type", "bert");
    n.put("vocab_size", vocabSize);
    n.put("hidden_size", hiddenSize);
    n.put("num_hidden_layers", numLayers);
    n.put("num_attention_heads", numHeads);
    n.put("intermediate_size", intermediateSize);
    n.put("hidden_act", "gelu");
    n.put("hidden_dropout_prob", hiddenDropout);
    n.put("attention_probs_dropout_prob", attentionDropout);
    n.put("max_position_embeddings", maxPositions);
    n.put("type_vocab_size", typeVocabSize);
    n.put("initializer_range", 0.02);
    n.put("layer_norm_eps", layerNormEps);
    n.put("pad_token_id", 0);
    n.put("position_embedding_type", "absolute");
    n.put("classifier_dropout", (String) null);
    n.put("torch_dtype", "float32");
    if (!labels.isEmpty()) {
      ObjectNode id2label = n.putObject("id2label");
      ObjectNode label2id = n.putObject("label2id");
      for (int i = 0; i < labels.size(); i++) {
        id2label.put(Integer.toString(i), labels.get(i));
        label2id.put(labels.get(i), i);
      }
      n.put("problem_type", "single_label_classification");
    }
    return n;
  }

  private static int requiredInt(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null || !v.canConvertToInt()) {
      throw new IllegalArgumentException("config.json lacks the integer field '" + field + "'");
    }
    return v.asInt();
  }

  private static void requirePositive(String name, int v) {
    if (v <= 0) {
      throw new IllegalArgumentException(name + " must be > 0, got " + v);
    }
  }

  private static void requireProbability(String name, double v) {
    if (!(v >= 0 && v < 1)) {
      throw new IllegalArgumentException(name + " must be in [0, 1), got " + v);
    }
  }
}

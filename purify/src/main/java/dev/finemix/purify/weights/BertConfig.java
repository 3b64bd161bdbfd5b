package dev.finemix.purify.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The shape of a BERT classifier, read from and written to a Hugging Face {@code config.json}.
 *
 * <p>Every dimension has a bound, checked before anything is sized from it (a hostile {@code config.json} is refused
 * at once, not after allocating for a million layers): vocab 1..{@value #MAX_VOCAB}, hidden 1..{@value #MAX_HIDDEN},
 * layers 1..{@value #MAX_LAYERS}, heads dividing hidden, intermediate 1..{@value #MAX_INTERMEDIATE}, positions
 * 1..{@value #MAX_POSITIONS}, token types 1..{@value #MAX_TYPES}, labels 0..{@value #MAX_LABELS}. The largest
 * released BERT-style encoders stay well inside them (BERT-large: 24 layers, hidden 1024, vocab 30,522; multilingual
 * vocabularies reach 250,000).
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

  public static final int MAX_VOCAB = 1_000_000;
  public static final int MAX_HIDDEN = 8192;
  public static final int MAX_LAYERS = 48;
  public static final int MAX_INTERMEDIATE = 65536;
  public static final int MAX_POSITIONS = 8192;
  public static final int MAX_TYPES = 16;
  public static final int MAX_LABELS = 1024;

  private static final ObjectMapper JSON = new ObjectMapper();

  public BertConfig {
    requireRange("vocab_size", vocabSize, 1, MAX_VOCAB);
    requireRange("hidden_size", hiddenSize, 1, MAX_HIDDEN);
    requireRange("num_hidden_layers", numLayers, 1, MAX_LAYERS);
    requireRange("num_attention_heads", numHeads, 1, MAX_HIDDEN);
    requireRange("intermediate_size", intermediateSize, 1, MAX_INTERMEDIATE);
    requireRange("max_position_embeddings", maxPositions, 1, MAX_POSITIONS);
    requireRange("type_vocab_size", typeVocabSize, 1, MAX_TYPES);
    if (hiddenSize % numHeads != 0) {
      throw new IllegalArgumentException(
          "hidden_size " + hiddenSize + " is not a multiple of num_attention_heads " + numHeads);
    }
    if (!(layerNormEps > 0 && layerNormEps < 1)) {
      throw new IllegalArgumentException("layer_norm_eps must be in (0, 1), got " + layerNormEps);
    }
    requireProbability("hidden_dropout_prob", hiddenDropout);
    requireProbability("attention_probs_dropout_prob", attentionDropout);
    labels = List.copyOf(labels == null ? List.of() : labels);
    requireRange("the number of labels", labels.size(), 0, MAX_LABELS);
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

  /**
   * Reads a Hugging Face BertConfig JSON object; absent optional fields take BERT's defaults. Numbers are read
   * strictly: an integer field takes any integral JSON number ({@code 512}, {@code 5.12e2}) within its bound, and
   * anything else (a fraction, a string, an out-of-range value) is refused with a message naming the field and value.
   */
  public static BertConfig fromJson(JsonNode n) {
    if (n == null || !n.isObject()) {
      throw new IllegalArgumentException("config.json is not a JSON object");
    }
    String type = n.path("model_type").asText("bert");
    if (!type.equals("bert")) {
      throw new IllegalArgumentException(unsupportedFamily(type));
    }
    String act = n.path("hidden_act").asText("gelu");
    if (!act.equals("gelu")) {
      throw new IllegalArgumentException("hidden_act '" + act + "' is not supported (only 'gelu')");
    }
    List<String> labels = new ArrayList<>();
    JsonNode id2label = n.get("id2label");
    if (id2label != null && id2label.isObject()) {
      if (id2label.size() > MAX_LABELS) {
        throw new IllegalArgumentException("id2label has " + id2label.size() + " labels, more than " + MAX_LABELS);
      }
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
      int k = intField(n, "num_labels", 1, MAX_LABELS, null);
      for (int i = 0; i < k; i++) {
        labels.add("LABEL_" + i);
      }
    }
    return new BertConfig(
        intField(n, "vocab_size", 1, MAX_VOCAB, null),
        intField(n, "hidden_size", 1, MAX_HIDDEN, null),
        intField(n, "num_hidden_layers", 1, MAX_LAYERS, null),
        intField(n, "num_attention_heads", 1, MAX_HIDDEN, null),
        intField(n, "intermediate_size", 1, MAX_INTERMEDIATE, null),
        intField(n, "max_position_embeddings", 1, MAX_POSITIONS, 512),
        intField(n, "type_vocab_size", 1, MAX_TYPES, 2),
        numberField(n, "layer_norm_eps", 1e-12),
        numberField(n, "hidden_dropout_prob", 0.1),
        numberField(n, "attention_probs_dropout_prob", 0.1),
        labels);
  }

  /**
   * Why a {@code model_type} other than {@code bert} is refused. The encoder ({@code BertClassifier}) implements
   * BERT's graph only; the families users ask for differ in ways that would silently produce wrong logits if their
   * weights were mapped onto it, so each gets its reason. docs/server.md says how a family is added.
   */
  static String unsupportedFamily(String type) {
    String why = switch (type) {
      case "distilbert" -> "DistilBERT has no token-type embeddings or pooler and names its layers "
          + "transformer.layer.N";
      case "roberta", "xlm-roberta" -> "RoBERTa-style models offset position ids by padding_idx + 1 and use a "
          + "byte-level BPE or SentencePiece tokenizer";
      case "deberta-v2", "deberta" -> "DeBERTa uses disentangled relative-position attention";
      case "electra", "albert", "mpnet" -> "its layers differ from BERT's (shared, factorised or relative-position)";
      default -> "it is not a BERT-family encoder this sidecar implements";
    };
    String shown = type.length() <= 40 ? type : type.substring(0, 40) + "...";
    return "model_type '" + shown + "' is not supported: " + why + ". Supported: " + SUPPORTED_MODEL_TYPES
        + " (BERT-family encoders such as " + String.join(", ", BERT_EXAMPLES) + ")";
  }

  /** The {@code model_type} values {@link #fromJson} accepts. */
  public static final List<String> SUPPORTED_MODEL_TYPES = List.of("bert");

  private static final List<String> BERT_EXAMPLES =
      List.of("all-MiniLM-L6-v2", "bge-small-en-v1.5", "e5-small-v2", "bert-base-uncased");

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

  /**
   * An integral JSON number within [min, max]; {@code dflt} when the field is absent (null: the field is required).
   * The value is checked exactly (as a decimal) before it is narrowed, so 4e9 reads as 4000000000, out of range.
   */
  private static int intField(JsonNode n, String field, int min, int max, Integer dflt) {
    JsonNode v = n.get(field);
    if (v == null) {
      if (dflt == null) {
        throw new IllegalArgumentException("config.json lacks the integer field '" + field + "'");
      }
      return dflt;
    }
    BigDecimal d = number(v, field, "an integer");
    if (d.scale() > 0) {
      throw new IllegalArgumentException(field + " must be an integer, got " + shown(v));
    }
    if (d.compareTo(BigDecimal.valueOf(min)) < 0 || d.compareTo(BigDecimal.valueOf(max)) > 0) {
      // precision - scale = digits before the point: print a huge exponent (1e999999999) as it is, not its digits
      String shown = d.precision() - d.scale() <= 40 ? d.toBigInteger().toString() : d.toString();
      throw new IllegalArgumentException(field + " " + shown + " is out of range (" + min + ".." + max + ")");
    }
    return d.intValue();
  }

  /** A finite JSON number; {@code dflt} when absent. Ranges are the constructor's. */
  private static double numberField(JsonNode n, String field, double dflt) {
    JsonNode v = n.get(field);
    return v == null ? dflt : number(v, field, "a number").doubleValue();
  }

  private static BigDecimal number(JsonNode v, String field, String what) {
    if (!v.isNumber() || (v.isDouble() || v.isFloat()) && !Double.isFinite(v.doubleValue())) {
      throw new IllegalArgumentException(field + " must be " + what + ", got " + shown(v));
    }
    return v.decimalValue().stripTrailingZeros();
  }

  /** The value as JSON, cut short: a hostile value may be a megabyte of nested arrays. */
  private static String shown(JsonNode v) {
    String s = v.toString();
    return s.length() <= 40 ? s : s.substring(0, 40) + "...";
  }

  private static void requireRange(String name, int v, int min, int max) {
    if (v < min || v > max) {
      throw new IllegalArgumentException(name + " " + v + " is out of range (" + min + ".." + max + ")");
    }
  }

  private static void requireProbability(String name, double v) {
    if (!(v >= 0 && v < 1)) {
      throw new IllegalArgumentException(name + " must be in [0, 1), got " + v);
    }
  }
}

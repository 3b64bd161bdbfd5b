package dev.finemix.purify.weights;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.DoubleSupplier;
import java.util.function.Function;

/**
 * The one catalogue of a Hugging Face {@code BertForSequenceClassification}'s tensors: every name and shape, in the
 * order {@code transformers} writes them. The model, the checkpoint reader and writer, the trainer, the defence and
 * the screener all name tensors through it. Linear weights are {@code [out, in]}; a module {@code m} has the tensors
 * {@code m.weight} and {@code m.bias} ({@link #weight}, {@link #bias}); embedding tables have a weight only.
 */
public final class BertTensors {
  /** The encoder's name prefix; a bare {@code BertModel} checkpoint stores its tensors without it. */
  public static final String ENCODER_PREFIX = "bert.";
  public static final String WORD_EMBEDDINGS = "bert.embeddings.word_embeddings.weight";
  public static final String POSITION_EMBEDDINGS = "bert.embeddings.position_embeddings.weight";
  public static final String TOKEN_TYPE_EMBEDDINGS = "bert.embeddings.token_type_embeddings.weight";
  public static final String EMBEDDINGS_LAYER_NORM = "bert.embeddings.LayerNorm";
  public static final String POOLER = "bert.pooler.dense";
  /** The classification head, the only module outside {@link #ENCODER_PREFIX}. */
  public static final String HEAD = "classifier";

  // the modules of one encoder layer, named through layer(l, module)
  public static final String QUERY = "attention.self.query";
  public static final String KEY = "attention.self.key";
  public static final String VALUE = "attention.self.value";
  public static final String ATTENTION_OUTPUT = "attention.output.dense";
  public static final String ATTENTION_LAYER_NORM = "attention.output.LayerNorm";
  public static final String INTERMEDIATE = "intermediate.dense";
  public static final String OUTPUT = "output.dense";
  public static final String OUTPUT_LAYER_NORM = "output.LayerNorm";

  private static final String LAYERS = "bert.encoder.layer.";

  private BertTensors() {}

  /** Module {@code module} of encoder layer {@code l}, e.g. {@code bert.encoder.layer.3.attention.self.query}. */
  public static String layer(int l, String module) {
    return LAYERS + l + "." + module;
  }

  public static String weight(String module) {
    return module + ".weight";
  }

  public static String bias(String module) {
    return module + ".bias";
  }

  /**
   * The encoder layer a tensor name belongs to ({@code bert.encoder.layer.N.…} gives N), or -1 for any other name.
   */
  public static int layerOf(String name) {
    if (!name.startsWith(LAYERS)) {
      return -1;
    }
    int end = name.indexOf('.', LAYERS.length());
    try {
      return Integer.parseInt(name.substring(LAYERS.length(), end < 0 ? name.length() : end));
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  /** Every tensor name and shape a model of {@code c} holds, in Hugging Face order; the head last when asked for. */
  public static Map<String, long[]> shapes(BertConfig c, boolean withHead) {
    long h = c.hiddenSize();
    long ffn = c.intermediateSize();
    Map<String, long[]> s = new LinkedHashMap<>();
    s.put(WORD_EMBEDDINGS, new long[] {c.vocabSize(), h});
    s.put(POSITION_EMBEDDINGS, new long[] {c.maxPositions(), h});
    s.put(TOKEN_TYPE_EMBEDDINGS, new long[] {c.typeVocabSize(), h});
    norm(s, EMBEDDINGS_LAYER_NORM, h);
    for (int l = 0; l < c.numLayers(); l++) {
      for (String qkv : new String[] {QUERY, KEY, VALUE}) {
        linear(s, layer(l, qkv), h, h);
      }
      linear(s, layer(l, ATTENTION_OUTPUT), h, h);
      norm(s, layer(l, ATTENTION_LAYER_NORM), h);
      linear(s, layer(l, INTERMEDIATE), ffn, h);
      linear(s, layer(l, OUTPUT), h, ffn);
      norm(s, layer(l, OUTPUT_LAYER_NORM), h);
    }
    linear(s, POOLER, h, h);
    if (withHead) {
      linear(s, HEAD, c.numLabels(), h);
    }
    return s;
  }

  /**
   * Checks that {@code present} (tensor name -> shape) holds every tensor of {@link #shapes}{@code (c, withHead)} with
   * its shape; other tensors are ignored. The {@link WeightsException} starts with {@code source} and names the first
   * tensor at fault, or the layer count when the config asks for more encoder layers than {@code present} has.
   */
  public static void requireShapes(BertConfig c, boolean withHead, Map<String, long[]> present, String source) {
    int layers = 0;
    for (String name : present.keySet()) {
      layers = Math.max(layers, layerOf(name) + 1);
    }
    if (layers < c.numLayers()) {
      throw new WeightsException(source + ": has tensors for " + layers + " encoder layers"
          + (layers == 0 ? "" : " (encoder.layer.0.." + (layers - 1) + ")") + " but the config says num_hidden_layers "
          + c.numLayers());
    }
    for (Map.Entry<String, long[]> e : shapes(c, withHead).entrySet()) {
      long[] shape = present.get(e.getKey());
      if (shape == null) {
        throw new WeightsException(source + ": missing tensor '" + e.getKey() + "'");
      }
      if (!Arrays.equals(shape, e.getValue())) {
        throw new WeightsException(source + ": tensor '" + e.getKey() + "' has shape " + Arrays.toString(shape)
            + ", the config needs " + Arrays.toString(e.getValue()));
      }
    }
  }

  /**
   * Host tensors for every entry of {@link #shapes}, each filled in order from the supplier {@code init} gives for its
   * name (random models for tests and benchmarks).
   */
  public static TensorMap initialised(BertConfig c, boolean withHead, Function<String, DoubleSupplier> init) {
    TensorMap w = new TensorMap();
    for (Map.Entry<String, long[]> e : shapes(c, withHead).entrySet()) {
      long n = 1;
      for (long d : e.getValue()) {
        n *= d;
      }
      float[] data = new float[Math.toIntExact(n)];
      DoubleSupplier next = init.apply(e.getKey());
      for (int i = 0; i < data.length; i++) {
        data[i] = (float) next.getAsDouble();
      }
      w.put(e.getKey(), new Tensor(e.getValue(), data));
    }
    return w;
  }

  /** True for the weight (gain) of a LayerNorm. */
  public static boolean isLayerNormWeight(String name) {
    return name.endsWith("LayerNorm.weight");
  }

  public static boolean isBias(String name) {
    return name.endsWith(".bias");
  }

  private static void linear(Map<String, long[]> s, String module, long out, long in) {
    s.put(weight(module), new long[] {out, in});
    s.put(bias(module), new long[] {out});
  }

  private static void norm(Map<String, long[]> s, String module, long h) {
    s.put(weight(module), new long[] {h});
    s.put(bias(module), new long[] {h});
  }
}

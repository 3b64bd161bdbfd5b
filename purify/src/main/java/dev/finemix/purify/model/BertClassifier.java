package dev.finemix.purify.model;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.Parameter;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;
import ai.djl.pytorch.jni.JniUtils;
import dev.finemix.purify.text.Batch;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.purify.weights.WeightsException;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * A Hugging Face {@code BertForSequenceClassification} written on DJL NDArrays (PyTorch engine):
 * embeddings (word + position + token type, LayerNorm), post-LayerNorm encoder layers (self-attention
 * with a padding mask, GELU-erf feed-forward), tanh pooler on [CLS], dropout and a linear head.
 *
 * <p>Parameters are trainable arrays keyed by their Hugging Face names; linear weights are
 * {@code [out, in]}. Every activation is created in the caller's manager: each op takes the
 * activation as its first operand, so results never land in the parameter manager.
 */
public final class BertClassifier implements AutoCloseable {

  private static final String ENGINE = "PyTorch";
  private static final float MASKED = -1e9f;

  private final BertConfig config;
  private final Device device;
  private final NDManager manager;
  private final Map<String, Parameter> parameters;
  private final Map<String, NDArray> arrays;
  private final Layer[] layers;
  private final NDArray wordEmb;
  private final NDArray posEmb;
  private final NDArray typeEmb;
  private final NDArray embLnW;
  private final NDArray embLnB;
  private final NDArray poolerW;
  private final NDArray poolerB;
  private final NDArray headW;
  private final NDArray headB;
  private final Shape hiddenShape;
  private final float eps;
  private volatile boolean closed;

  private record Layer(NDArray q, NDArray qb, NDArray k, NDArray kb, NDArray v, NDArray vb,
      NDArray ao, NDArray aob, NDArray aln, NDArray alnb, NDArray i, NDArray ib, NDArray o, NDArray ob,
      NDArray oln, NDArray olnb) {}

  private BertClassifier(BertConfig config, TensorMap w, Device device) {
    if (config.numLabels() < 1) {
      throw new IllegalArgumentException("a classifier needs at least one label; config has none");
    }
    this.config = config;
    this.device = device;
    this.hiddenShape = new Shape(config.hiddenSize());
    this.eps = (float) config.layerNormEps();
    Map<String, long[]> expected = expectedShapes(config);
    for (Map.Entry<String, long[]> e : expected.entrySet()) {
      Tensor t = w.get(e.getKey());
      if (t == null) {
        throw new WeightsException("missing tensor '" + e.getKey() + "' (expected shape "
            + Arrays.toString(e.getValue()) + ")");
      }
      if (!Arrays.equals(t.shape(), e.getValue())) {
        throw new WeightsException("tensor '" + e.getKey() + "' has shape " + Arrays.toString(t.shape())
            + ", expected " + Arrays.toString(e.getValue()));
      }
    }
    this.manager = NDManager.newBaseManager(device, ENGINE);
    Map<String, Parameter> params = new LinkedHashMap<>();
    Map<String, NDArray> arr = new LinkedHashMap<>();
    try {
      for (Map.Entry<String, long[]> e : expected.entrySet()) {
        Tensor t = w.get(e.getKey());
        NDArray a = manager.create(t.data(), new Shape(t.shape()));
        a.setName(e.getKey());
        params.put(e.getKey(), Parameter.builder().setName(e.getKey()).setType(typeOf(e.getKey()))
            .optArray(a).optRequiresGrad(true).build());
        arr.put(e.getKey(), a);
      }
    } catch (RuntimeException ex) {
      manager.close();
      throw ex;
    }
    this.parameters = Collections.unmodifiableMap(params);
    this.arrays = arr;
    String e = "bert.embeddings.";
    wordEmb = arr.get(e + "word_embeddings.weight");
    posEmb = arr.get(e + "position_embeddings.weight");
    typeEmb = arr.get(e + "token_type_embeddings.weight");
    embLnW = arr.get(e + "LayerNorm.weight");
    embLnB = arr.get(e + "LayerNorm.bias");
    layers = new Layer[config.numLayers()];
    for (int l = 0; l < layers.length; l++) {
      String p = "bert.encoder.layer." + l + ".";
      layers[l] = new Layer(
          arr.get(p + "attention.self.query.weight"), arr.get(p + "attention.self.query.bias"),
          arr.get(p + "attention.self.key.weight"), arr.get(p + "attention.self.key.bias"),
          arr.get(p + "attention.self.value.weight"), arr.get(p + "attention.self.value.bias"),
          arr.get(p + "attention.output.dense.weight"), arr.get(p + "attention.output.dense.bias"),
          arr.get(p + "attention.output.LayerNorm.weight"), arr.get(p + "attention.output.LayerNorm.bias"),
          arr.get(p + "intermediate.dense.weight"), arr.get(p + "intermediate.dense.bias"),
          arr.get(p + "output.dense.weight"), arr.get(p + "output.dense.bias"),
          arr.get(p + "output.LayerNorm.weight"), arr.get(p + "output.LayerNorm.bias"));
    }
    poolerW = arr.get("bert.pooler.dense.weight");
    poolerB = arr.get("bert.pooler.dense.bias");
    headW = arr.get("classifier.weight");
    headB = arr.get("classifier.bias");
  }

  /** A classifier holding a copy of {@code w}, which must contain every tensor of {@code c} (head too). */
  public static BertClassifier create(BertConfig c, TensorMap w, Device d) {
    if (c == null || w == null || d == null) {
      throw new IllegalArgumentException("config, weights and device are required");
    }
    return new BertClassifier(c, w, d);
  }

  /** The pre-trained encoder and pooler with a fresh head: weight ~ N(0, 0.02) from {@code seed}, bias 0. */
  public static BertClassifier fromPretrained(Pretrained p, List<String> labels, long seed, Device d) {
    if (labels == null || labels.isEmpty()) {
      throw new IllegalArgumentException("labels must not be empty");
    }
    BertConfig c = p.config().withLabels(labels);
    TensorMap w = new TensorMap();
    for (String name : p.weights().names()) {
      w.put(name, p.weights().get(name)); // shared, read-only: create() copies into native memory
    }
    w.put("classifier.weight", randomHead(labels.size(), c.hiddenSize(), seed));
    w.put("classifier.bias", new Tensor(new long[] {labels.size()}, new float[labels.size()]));
    return create(c, w, d);
  }

  /** A head weight [labels, hidden] drawn from N(0, 0.02) with a seeded generator. */
  public static Tensor randomHead(int labels, int hidden, long seed) {
    Random rnd = new Random(seed);
    float[] data = new float[labels * hidden];
    for (int i = 0; i < data.length; i++) {
      data[i] = (float) (rnd.nextGaussian() * 0.02);
    }
    return new Tensor(new long[] {labels, hidden}, data);
  }

  /**
   * Random weights for every tensor of {@code c} (BERT's initialisation: N(0, 0.02) for matrices and
   * embeddings, LayerNorm weight 1, biases 0), seeded. For tests and tiny demo models.
   */
  public static TensorMap randomWeights(BertConfig c, long seed) {
    Random rnd = new Random(seed);
    TensorMap w = new TensorMap();
    for (Map.Entry<String, long[]> e : expectedShapes(c).entrySet()) {
      long n = 1;
      for (long s : e.getValue()) {
        n *= s;
      }
      float[] data = new float[Math.toIntExact(n)];
      String name = e.getKey();
      if (name.contains("LayerNorm") && name.endsWith("weight")) {
        Arrays.fill(data, 1f);
      } else if (!name.endsWith("bias")) {
        for (int i = 0; i < data.length; i++) {
          data[i] = (float) (rnd.nextGaussian() * 0.02);
        }
      }
      w.put(name, new Tensor(e.getValue(), data));
    }
    return w;
  }

  /** Every tensor name and shape a classifier of this config holds, in Hugging Face order. */
  public static Map<String, long[]> expectedShapes(BertConfig c) {
    long h = c.hiddenSize();
    Map<String, long[]> m = new LinkedHashMap<>();
    String e = "bert.embeddings.";
    m.put(e + "word_embeddings.weight", new long[] {c.vocabSize(), h});
    m.put(e + "position_embeddings.weight", new long[] {c.maxPositions(), h});
    m.put(e + "token_type_embeddings.weight", new long[] {c.typeVocabSize(), h});
    m.put(e + "LayerNorm.weight", new long[] {h});
    m.put(e + "LayerNorm.bias", new long[] {h});
    for (int l = 0; l < c.numLayers(); l++) {
      String p = "bert.encoder.layer." + l + ".";
      for (String s : List.of("query", "key", "value")) {
        m.put(p + "attention.self." + s + ".weight", new long[] {h, h});
        m.put(p + "attention.self." + s + ".bias", new long[] {h});
      }
      m.put(p + "attention.output.dense.weight", new long[] {h, h});
      m.put(p + "attention.output.dense.bias", new long[] {h});
      m.put(p + "attention.output.LayerNorm.weight", new long[] {h});
      m.put(p + "attention.output.LayerNorm.bias", new long[] {h});
      m.put(p + "intermediate.dense.weight", new long[] {c.intermediateSize(), h});
      m.put(p + "intermediate.dense.bias", new long[] {c.intermediateSize()});
      m.put(p + "output.dense.weight", new long[] {h, c.intermediateSize()});
      m.put(p + "output.dense.bias", new long[] {h});
      m.put(p + "output.LayerNorm.weight", new long[] {h});
      m.put(p + "output.LayerNorm.bias", new long[] {h});
    }
    m.put("bert.pooler.dense.weight", new long[] {h, h});
    m.put("bert.pooler.dense.bias", new long[] {h});
    m.put("classifier.weight", new long[] {c.numLabels(), h});
    m.put("classifier.bias", new long[] {c.numLabels()});
    return m;
  }

  private static Parameter.Type typeOf(String name) {
    if (name.contains("LayerNorm")) {
      return name.endsWith("bias") ? Parameter.Type.BETA : Parameter.Type.GAMMA;
    }
    return name.endsWith("bias") ? Parameter.Type.BIAS : Parameter.Type.WEIGHT;
  }

  public BertConfig config() {
    return config;
  }

  public Device device() {
    return device;
  }

  /** Parameters by Hugging Face name, in model order. Their arrays are the live weights. */
  public Map<String, Parameter> parameters() {
    return parameters;
  }

  /** Logits [rows, numLabels]; {@code m} (on this model's device) owns every result. */
  public NDArray forward(NDManager m, Batch b, boolean training) {
    return forward(m, b, training, null);
  }

  /**
   * Logits with the word embeddings looked up in {@code wordTable} instead of this model's table
   * (null: the model's own): the batch's ids index rows of {@code wordTable}. The trainer passes the
   * batch's own rows as a small leaf so that backward and AdamW touch only those rows.
   */
  public NDArray forward(NDManager m, Batch b, boolean training, NDArray wordTable) {
    return forwardPooled(m, b, training, wordTable).get(0);
  }

  /**
   * Logits [rows, numLabels] and the pooled features [rows, hidden] they were computed from (the pooler's tanh
   * output, before the head's dropout), in that order.
   */
  public NDList forwardPooled(NDManager m, Batch b, boolean training, NDArray wordTable) {
    NDArray x = encode(m, b, training, wordTable);
    NDArray cls = x.get(new NDIndex(":, 0, :"));
    NDArray pooled = pooler(cls);
    NDArray dropped = dropout(pooled, config.hiddenDropout(), training);
    return new NDList(head(dropped), pooled);
  }

  /** Pooled features [rows][hidden] for one batch, inference mode (see {@link #forwardPooled}). Thread-safe. */
  public float[][] pooled(Batch b) {
    return perRow(b, config.hiddenSize(), m -> pooler(clsHidden(m, b)));
  }

  private NDArray pooler(NDArray cls) {
    return Linear.linear(cls, poolerW, poolerB).singletonOrThrow().tanh();
  }

  private NDArray head(NDArray pooled) {
    return Linear.linear(pooled, headW, headB).singletonOrThrow();
  }

  /** The encoder's last hidden state [rows, seq, hidden], inference mode (no dropout). */
  public NDArray hidden(NDManager m, Batch b) {
    return encode(m, b, false, null);
  }

  private NDArray encode(NDManager m, Batch b, boolean training, NDArray wordTable) {
    checkOpen();
    int rows = b.rows();
    int seq = checkSeq(b.seqLen());
    Shape shape = new Shape(rows, seq);
    NDArray ids = m.create(b.ids(), shape);
    NDArray types = m.create(b.typeIds(), shape);
    NDArray pos = m.arange(0, seq, 1, DataType.INT64);
    NDArray x = dropout(embed(ids, types, pos, wordTable == null ? wordEmb : wordTable), config.hiddenDropout(),
        training);

    NDArray maskBias = null;
    long[] mask = b.mask();
    boolean padded = false;
    for (long v : mask) {
      if (v == 0) {
        padded = true;
        break;
      }
    }
    if (padded) {
      float[] bias = new float[mask.length];
      for (int i = 0; i < mask.length; i++) {
        bias[i] = mask[i] == 0 ? MASKED : 0f;
      }
      maskBias = m.create(bias, new Shape(rows, 1, 1, seq));
    }
    int heads = config.numHeads();
    int hd = config.headSize();
    NDArray scale = m.create((float) (1.0 / Math.sqrt(hd)));
    for (Layer l : layers) {
      NDArray q = Linear.linear(x, l.q, l.qb).singletonOrThrow()
          .reshape(rows, seq, heads, hd).transpose(0, 2, 1, 3).mul(scale);
      NDArray k = Linear.linear(x, l.k, l.kb).singletonOrThrow()
          .reshape(rows, seq, heads, hd).transpose(0, 2, 3, 1);
      NDArray v = Linear.linear(x, l.v, l.vb).singletonOrThrow()
          .reshape(rows, seq, heads, hd).transpose(0, 2, 1, 3);
      NDArray scores = q.matMul(k);
      if (maskBias != null) {
        scores = scores.add(maskBias);
      }
      NDArray probs = dropout(scores.softmax(-1), config.attentionDropout(), training);
      NDArray ctx = probs.matMul(v).transpose(0, 2, 1, 3).reshape(rows, seq, (long) heads * hd);
      x = outputAndFeedForward(l, ctx, x, training);
    }
    return x;
  }

  private int checkSeq(int seq) {
    if (seq > config.maxPositions()) {
      throw new IllegalArgumentException("sequence length " + seq + " exceeds max_position_embeddings "
          + config.maxPositions());
    }
    return seq;
  }

  /** LayerNorm(word + token type + position embeddings) of the given ids (any shape that broadcasts). */
  private NDArray embed(NDArray ids, NDArray types, NDArray positions, NDArray wordTable) {
    NDArray x = Embedding.embedding(ids, wordTable, SparseFormat.DENSE).singletonOrThrow()
        .add(Embedding.embedding(types, typeEmb, SparseFormat.DENSE).singletonOrThrow())
        .add(Embedding.embedding(positions, posEmb, SparseFormat.DENSE).singletonOrThrow());
    return LayerNorm.layerNorm(x, hiddenShape, embLnW, embLnB, eps).singletonOrThrow();
  }

  /** A layer after attention: output projection, residual and LayerNorm, then feed-forward, residual and LayerNorm. */
  private NDArray outputAndFeedForward(Layer l, NDArray ctx, NDArray x, boolean training) {
    NDArray a = dropout(Linear.linear(ctx, l.ao, l.aob).singletonOrThrow(), config.hiddenDropout(), training);
    x = LayerNorm.layerNorm(a.add(x), hiddenShape, l.aln, l.alnb, eps).singletonOrThrow();
    NDArray h = Activation.gelu(Linear.linear(x, l.i, l.ib).singletonOrThrow());
    NDArray o = dropout(Linear.linear(h, l.o, l.ob).singletonOrThrow(), config.hiddenDropout(), training);
    return LayerNorm.layerNorm(o.add(x), hiddenShape, l.oln, l.olnb, eps).singletonOrThrow();
  }

  /**
   * The last layer's [CLS] state [rows, hidden] for inference, computed without padding: every token-wise op
   * (embeddings, the Q/K/V, output and feed-forward GEMMs, LayerNorms) runs on the batch's real tokens only, packed
   * into one [tokens, hidden] matrix, and only attention sees the padded [rows, seq] layout (keys and values gathered
   * into it, padding masked). The last layer computes queries, attention output and feed-forward for the [CLS] rows
   * alone: nothing else of it reaches the pooler. Same function as {@link #encode}'s [CLS] row (tested), with less
   * work: a batch padded to its longest row does no GEMM work for the padding, and a batch of one row skips five
   * sixths of the last layer. Rows must be right-padded (real tokens first), as {@link Batch#of} builds them; any
   * other mask takes the padded path.
   */
  private NDArray clsHidden(NDManager m, Batch b) {
    checkOpen();
    int rows = b.rows();
    int seq = checkSeq(b.seqLen());
    long[] mask = b.mask();
    int tokens = 0;
    boolean padded = false;
    for (int r = 0; r < rows; r++) {
      int len = 0;
      while (len < seq && mask[r * seq + len] != 0) {
        len++;
      }
      boolean rightPadded = len > 0;
      for (int c = len; c < seq && rightPadded; c++) {
        rightPadded = mask[r * seq + c] == 0;
      }
      if (!rightPadded) {
        return encode(m, b, false, null).get(new NDIndex(":, 0, :"));
      }
      padded |= len < seq;
      tokens += len;
    }
    // packed token t comes from padded slot real[t]; padded slot s reads packed token slot[s] (padding: any real
    // token of its row, masked in attention); row r's [CLS] is packed token cls[r]
    long[] ids = new long[tokens];
    long[] types = new long[tokens];
    long[] positions = new long[tokens];
    long[] real = new long[tokens];
    long[] slot = new long[rows * seq];
    long[] cls = new long[rows];
    float[] bias = new float[rows * seq];
    int t = 0;
    for (int r = 0; r < rows; r++) {
      cls[r] = t;
      for (int c = 0; c < seq; c++) {
        int s = r * seq + c;
        if (mask[s] != 0) {
          ids[t] = b.ids()[s];
          types[t] = b.typeIds()[s];
          positions[t] = c;
          real[t] = s;
          slot[s] = t++;
        } else {
          slot[s] = cls[r];
          bias[s] = MASKED;
        }
      }
    }
    NDArray x = embed(m.create(ids), m.create(types), m.create(positions), wordEmb);
    NDArray slots = padded ? m.create(slot) : null;
    NDArray reals = padded ? m.create(real) : null;
    NDArray maskBias = padded ? m.create(bias, new Shape(rows, 1, 1, seq)) : null;
    int heads = config.numHeads();
    int hd = config.headSize();
    long hidden = (long) heads * hd;
    NDArray scale = m.create((float) (1.0 / Math.sqrt(hd)));
    for (int li = 0; li < layers.length; li++) {
      Layer l = layers[li];
      boolean last = li == layers.length - 1;
      NDArray k = toPadded(Linear.linear(x, l.k, l.kb).singletonOrThrow(), slots)
          .reshape(rows, seq, heads, hd).transpose(0, 2, 3, 1);
      NDArray v = toPadded(Linear.linear(x, l.v, l.vb).singletonOrThrow(), slots)
          .reshape(rows, seq, heads, hd).transpose(0, 2, 1, 3);
      if (last) {
        x = rows == tokens ? x : Embedding.embedding(m.create(cls), x, SparseFormat.DENSE).singletonOrThrow();
      }
      long qLen = last ? 1 : seq;
      NDArray q = last
          ? Linear.linear(x, l.q, l.qb).singletonOrThrow().reshape(rows, 1, heads, hd).transpose(0, 2, 1, 3)
          : toPadded(Linear.linear(x, l.q, l.qb).singletonOrThrow(), slots)
              .reshape(rows, seq, heads, hd).transpose(0, 2, 1, 3);
      NDArray scores = q.mul(scale).matMul(k);
      if (maskBias != null) {
        scores = scores.add(maskBias);
      }
      NDArray ctx = scores.softmax(-1).matMul(v).transpose(0, 2, 1, 3).reshape(rows * qLen, hidden);
      if (!last && padded) {
        ctx = Embedding.embedding(reals, ctx, SparseFormat.DENSE).singletonOrThrow();
      }
      x = outputAndFeedForward(l, ctx, x, false);
    }
    return x;
  }

  /** Packed rows [tokens, width] laid out as padded slots [rows * seq, width] (no copy when nothing is padded). */
  private static NDArray toPadded(NDArray packed, NDArray slots) {
    return slots == null ? packed : Embedding.embedding(slots, packed, SparseFormat.DENSE).singletonOrThrow();
  }

  private static NDArray dropout(NDArray x, double p, boolean training) {
    if (!training || p <= 0) {
      return x;
    }
    return Dropout.dropout(x, (float) p, true).singletonOrThrow();
  }

  /**
   * Softmax probabilities [rows][labels] for one batch: inference mode, gradients off on this thread,
   * every intermediate in a sub-manager closed before returning. Safe to call from several threads.
   */
  public float[][] predictProba(Batch b) {
    return perRow(b, config.numLabels(),
        m -> head(pooler(clsHidden(m, b))).softmax(-1));
  }

  /** {@code compute}'s [rows, width] result as host rows: gradients off on this thread, a sub-manager closed after. */
  private float[][] perRow(Batch b, int width, java.util.function.Function<NDManager, NDArray> compute) {
    boolean grad = JniUtils.isGradMode();
    if (grad) {
      JniUtils.setGradMode(false);
    }
    try (NDManager m = manager.newSubManager()) {
      float[] p = compute.apply(m).toFloatArray();
      float[][] out = new float[b.rows()][];
      for (int r = 0; r < out.length; r++) {
        out[r] = Arrays.copyOfRange(p, r * width, (r + 1) * width);
      }
      return out;
    } finally {
      if (grad) {
        JniUtils.setGradMode(true);
      }
    }
  }

  /** A host copy of every weight under its Hugging Face name. */
  public TensorMap toTensors() {
    checkOpen();
    TensorMap t = new TensorMap();
    for (Map.Entry<String, NDArray> e : arrays.entrySet()) {
      t.put(e.getKey(), new Tensor(e.getValue().getShape().getShape(), e.getValue().toFloatArray()));
    }
    return t;
  }

  /** Overwrites the weights in place; {@code w} must hold every tensor with the same shapes. */
  public void load(TensorMap w) {
    checkOpen();
    List<String> problems = new ArrayList<>();
    for (Map.Entry<String, NDArray> e : arrays.entrySet()) {
      Tensor t = w.get(e.getKey());
      if (t == null) {
        problems.add("missing '" + e.getKey() + "'");
      } else if (!Arrays.equals(t.shape(), e.getValue().getShape().getShape())) {
        problems.add("'" + e.getKey() + "' has shape " + Arrays.toString(t.shape()) + ", expected "
            + e.getValue().getShape());
      }
    }
    if (!problems.isEmpty()) {
      throw new WeightsException("cannot load weights: " + String.join("; ", problems));
    }
    boolean grad = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try {
      for (Map.Entry<String, NDArray> e : arrays.entrySet()) {
        e.getValue().set(FloatBuffer.wrap(w.get(e.getKey()).data()));
      }
    } finally {
      JniUtils.setGradMode(grad);
    }
  }

  /** Arrays held by the parameter manager (tests: must not grow with forward passes). */
  int managedArrays() {
    return manager.getManagedArrays().size();
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException("BertClassifier is closed");
    }
  }

  @Override
  public void close() {
    if (!closed) {
      closed = true;
      manager.close();
    }
  }
}

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
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.purify.weights.WeightsException;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.Function;

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

  /** The most rows {@link #infer(List, boolean)} runs in one batch. */
  public static final int MAX_BATCH = 32;
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
  private final Norm embNorm;
  private final Affine pooler;
  private final Affine head;
  private final Shape hiddenShape;
  private final float eps;
  private volatile boolean closed;

  /** A linear module: {@code x W^T + b}. */
  private record Affine(NDArray w, NDArray b) {
    static Affine of(Map<String, NDArray> a, String module) {
      return new Affine(a.get(BertTensors.weight(module)), a.get(BertTensors.bias(module)));
    }

    NDArray apply(NDArray x) {
      return Linear.linear(x, w, b).singletonOrThrow();
    }
  }

  /** A LayerNorm's gain and bias. */
  private record Norm(NDArray w, NDArray b) {
    static Norm of(Map<String, NDArray> a, String module) {
      return new Norm(a.get(BertTensors.weight(module)), a.get(BertTensors.bias(module)));
    }
  }

  private record Layer(Affine q, Affine k, Affine v, Affine attentionOut, Norm attentionNorm, Affine intermediate,
      Affine out, Norm outNorm) {
    static Layer of(Map<String, NDArray> a, int l) {
      return new Layer(Affine.of(a, BertTensors.layer(l, BertTensors.QUERY)),
          Affine.of(a, BertTensors.layer(l, BertTensors.KEY)), Affine.of(a, BertTensors.layer(l, BertTensors.VALUE)),
          Affine.of(a, BertTensors.layer(l, BertTensors.ATTENTION_OUTPUT)),
          Norm.of(a, BertTensors.layer(l, BertTensors.ATTENTION_LAYER_NORM)),
          Affine.of(a, BertTensors.layer(l, BertTensors.INTERMEDIATE)),
          Affine.of(a, BertTensors.layer(l, BertTensors.OUTPUT)),
          Norm.of(a, BertTensors.layer(l, BertTensors.OUTPUT_LAYER_NORM)));
    }
  }

  /**
   * What inference gives per row, in row order: softmax probabilities [labels], and the last layer's [CLS] state
   * [hidden] (the encoder's output before the pooler; null when not asked for).
   */
  public record Inference(float[][] probabilities, float[][] cls) {}

  private BertClassifier(BertConfig config, TensorMap w, Device device) {
    if (config.numLabels() < 1) {
      throw new IllegalArgumentException("a classifier needs at least one label; config has none");
    }
    this.config = config;
    this.device = device;
    this.hiddenShape = new Shape(config.hiddenSize());
    this.eps = (float) config.layerNormEps();
    Map<String, long[]> expected = BertTensors.shapes(config, true);
    BertTensors.requireShapes(config, true, w.shapes(), "model weights");
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
    wordEmb = arr.get(BertTensors.WORD_EMBEDDINGS);
    posEmb = arr.get(BertTensors.POSITION_EMBEDDINGS);
    typeEmb = arr.get(BertTensors.TOKEN_TYPE_EMBEDDINGS);
    embNorm = Norm.of(arr, BertTensors.EMBEDDINGS_LAYER_NORM);
    layers = new Layer[config.numLayers()];
    for (int l = 0; l < layers.length; l++) {
      layers[l] = Layer.of(arr, l);
    }
    pooler = Affine.of(arr, BertTensors.POOLER);
    head = Affine.of(arr, BertTensors.HEAD);
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
    if (!w.names().contains(BertTensors.weight(BertTensors.POOLER))) { // an embedding export without one (bge, e5)
      w.put(BertTensors.weight(BertTensors.POOLER), randomHead(c.hiddenSize(), c.hiddenSize(), seed + 1));
      w.put(BertTensors.bias(BertTensors.POOLER), new Tensor(new long[] {c.hiddenSize()}, new float[c.hiddenSize()]));
    }
    w.put(BertTensors.weight(BertTensors.HEAD), randomHead(labels.size(), c.hiddenSize(), seed));
    w.put(BertTensors.bias(BertTensors.HEAD), new Tensor(new long[] {labels.size()}, new float[labels.size()]));
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
    return BertTensors.initialised(c, true, name -> BertTensors.isLayerNormWeight(name) ? () -> 1
        : BertTensors.isBias(name) ? () -> 0 : () -> rnd.nextGaussian() * 0.02);
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
   * output, before the head's dropout), in that order. The padded layout: what training differentiates.
   */
  public NDList forwardPooled(NDManager m, Batch b, boolean training, NDArray wordTable) {
    NDArray x = encode(Layout.padded(m, b, checkSeq(b)), training, wordTable, false, null);
    NDArray pooled = pooler(x.get(new NDIndex(":, 0, :")));
    return new NDList(headOf(pooled, training), pooled);
  }

  /**
   * Every encoder layer's [CLS] state [rows, hidden], first layer first (the last is the one {@link #forwardPooled}
   * pools), collected from the one encoder pass in the padded layout: what layer-wise poisoning (LWP) trains.
   */
  public NDList layerCls(NDManager m, Batch b, boolean training, NDArray wordTable) {
    NDList out = new NDList(layers.length);
    encode(Layout.padded(m, b, checkSeq(b)), training, wordTable, false, out);
    return out;
  }

  /** Logits [rows, numLabels] of [CLS] states [rows, hidden] through the shared pooler, dropout and head. */
  public NDArray clsLogits(NDArray cls, boolean training) {
    return headOf(pooler(cls), training);
  }

  private NDArray headOf(NDArray pooled, boolean training) {
    return head.apply(dropout(pooled, config.hiddenDropout(), training));
  }

  /** The encoder's last hidden state [rows, seq, hidden], inference mode (no dropout). */
  public NDArray hidden(NDManager m, Batch b) {
    return encode(Layout.padded(m, b, checkSeq(b)), false, null, false, null);
  }

  /**
   * Softmax probabilities [rows][labels] for one batch: inference mode, gradients off on this thread,
   * every intermediate in a sub-manager closed before returning. Safe to call from several threads.
   */
  public float[][] predictProba(Batch b) {
    return onHost(b, m -> new NDList(probabilities(clsHidden(m, b))))[0];
  }

  /** Probabilities and [CLS] states for one batch, from one pass (see {@link #predictProba}). Thread-safe. */
  public Inference infer(Batch b) {
    float[][][] r = onHost(b, m -> {
      NDArray cls = clsHidden(m, b);
      return new NDList(probabilities(cls), cls);
    });
    return new Inference(r[0], r[1]);
  }

  /**
   * Inference over any number of tokenized rows, results in input order: the rows are sorted by length (stable) and
   * run in batches of at most {@value #MAX_BATCH}, each padded to its longest row. The [CLS] states only when
   * {@code withCls}. Thread-safe.
   */
  public Inference infer(List<Encoding> rows, boolean withCls) {
    int n = rows.size();
    float[][] probs = new float[n][];
    float[][] cls = withCls ? new float[n][] : null;
    Integer[] order = new Integer[n];
    for (int i = 0; i < n; i++) {
      order[i] = i;
    }
    Arrays.sort(order, Comparator.comparingInt(i -> rows.get(i).length()));
    for (int start = 0; start < n; start += MAX_BATCH) {
      int k = Math.min(MAX_BATCH, n - start);
      List<Encoding> part = new ArrayList<>(k);
      for (int j = 0; j < k; j++) {
        part.add(rows.get(order[start + j]));
      }
      Batch batch = Batch.of(part);
      Inference r = withCls ? infer(batch) : new Inference(predictProba(batch), null);
      for (int j = 0; j < k; j++) {
        probs[order[start + j]] = r.probabilities()[j];
        if (withCls) {
          cls[order[start + j]] = r.cls()[j];
        }
      }
    }
    return new Inference(probs, cls);
  }

  /** Pooled features [rows][hidden] for one batch, inference mode (see {@link #forwardPooled}). Thread-safe. */
  public float[][] pooled(Batch b) {
    return onHost(b, m -> new NDList(pooler(clsHidden(m, b))))[0];
  }

  private NDArray pooler(NDArray cls) {
    return pooler.apply(cls).tanh();
  }

  private NDArray probabilities(NDArray cls) {
    return head.apply(pooler(cls)).softmax(-1);
  }

  /**
   * The last layer's [CLS] state [rows, hidden] for inference, computed without padding: the packed layout (see
   * {@link Layout#packed}), whose last layer computes only the [CLS] rows, as nothing else of it reaches the pooler.
   * Same function as the padded forward's [CLS] row (tested), with less work: a batch padded to its longest row does
   * no GEMM work for the padding, and a batch of one row skips five sixths of the last layer. A mask that is not
   * right-padded takes the padded path.
   */
  private NDArray clsHidden(NDManager m, Batch b) {
    int seq = checkSeq(b);
    Layout packed = Layout.packed(m, b, seq);
    return packed != null ? encode(packed, false, null, true, null)
        : encode(Layout.padded(m, b, seq), false, null, false, null).get(new NDIndex(":, 0, :"));
  }

  /**
   * Where the tokens of a batch sit. Padded: every token-wise op runs on [rows, seq, hidden], padding included (what
   * training and the parity test see). Packed: token-wise ops (embeddings, the Q/K/V, output and feed-forward GEMMs,
   * LayerNorms) run on the real tokens only, one [tokens, hidden] matrix, and only attention sees the [rows, seq]
   * layout: keys, values and queries are gathered into it through {@code slots} (padding slots read any real token of
   * their row; the mask hides them) and the context is gathered back through {@code reals}. Each array is made in the
   * caller's manager.
   *
   * @param slots packed only, null when nothing is padded: padded slot s reads packed token slots[s]
   * @param reals packed only, null when nothing is padded: packed token t is padded slot reals[t]
   * @param cls packed only: row r's [CLS] is packed token cls[r]
   * @param maskBias [rows, 1, 1, seq] adding -1e9 at padding, null when nothing is padded
   */
  private record Layout(NDManager m, int rows, int seq, int tokens, NDArray ids, NDArray types, NDArray positions,
      NDArray maskBias, boolean packed, NDArray slots, NDArray reals, long[] cls) {

    static Layout padded(NDManager m, Batch b, int seq) {
      int rows = b.rows();
      Shape shape = new Shape(rows, seq);
      NDArray ids = m.create(b.ids(), shape);
      NDArray types = m.create(b.typeIds(), shape);
      NDArray pos = m.arange(0, seq, 1, DataType.INT64);
      long[] mask = b.mask();
      NDArray maskBias = null;
      for (long v : mask) {
        if (v == 0) {
          float[] bias = new float[mask.length];
          for (int i = 0; i < mask.length; i++) {
            bias[i] = mask[i] == 0 ? MASKED : 0f;
          }
          maskBias = m.create(bias, new Shape(rows, 1, 1, seq));
          break;
        }
      }
      return new Layout(m, rows, seq, rows * seq, ids, types, pos, maskBias, false, null, null, null);
    }

    /** The packed layout, or null when a row is not right-padded (real tokens first, as {@link Batch#of} builds). */
    static Layout packed(NDManager m, Batch b, int seq) {
      int rows = b.rows();
      long[] mask = b.mask();
      int tokens = 0;
      for (int r = 0; r < rows; r++) {
        int len = 0;
        while (len < seq && mask[r * seq + len] != 0) {
          len++;
        }
        if (len == 0) {
          return null;
        }
        for (int c = len; c < seq; c++) {
          if (mask[r * seq + c] != 0) {
            return null;
          }
        }
        tokens += len;
      }
      boolean padded = tokens < rows * seq;
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
      return new Layout(m, rows, seq, tokens, m.create(ids), m.create(types), m.create(positions),
          padded ? m.create(bias, new Shape(rows, 1, 1, seq)) : null, true, padded ? m.create(slot) : null,
          padded ? m.create(real) : null, cls);
    }

    /** Token-wise rows laid out as attention's [rows * seq, width] slots (padded: already so; no copy). */
    NDArray toSlots(NDArray tokenwise) {
      return slots == null ? tokenwise : gather(slots, tokenwise);
    }

    /** Attention's context [rows, heads, seq, headSize] back in the token-wise layout. */
    NDArray fromSlots(NDArray ctx, long hidden) {
      NDArray c = ctx.transpose(0, 2, 1, 3);
      if (!packed) {
        return c.reshape(rows, seq, hidden);
      }
      c = c.reshape((long) rows * seq, hidden);
      return reals == null ? c : gather(reals, c);
    }

    /** Each row's [CLS] token of the packed token-wise rows. */
    NDArray clsRows(NDArray tokenwise) {
      return rows == tokens ? tokenwise : gather(m.create(cls), tokenwise);
    }

    private static NDArray gather(NDArray index, NDArray rowsOf) {
      return Embedding.embedding(index, rowsOf, SparseFormat.DENSE).singletonOrThrow();
    }
  }

  /**
   * The encoder: embeddings, then every layer's self-attention and feed-forward in {@code lay}'s layout; the
   * last hidden state in that layout, or with {@code clsOnly} (packed inference) the [CLS] rows [rows, hidden] only:
   * the last layer then computes queries, attention output and feed-forward for those rows alone. With
   * {@code layerCls} (padded layout only) each layer's [CLS] state is added to it as the loop passes.
   */
  private NDArray encode(Layout lay, boolean training, NDArray wordTable, boolean clsOnly, NDList layerCls) {
    checkOpen();
    NDManager m = lay.m();
    int rows = lay.rows();
    int seq = lay.seq();
    NDArray x = dropout(embed(lay.ids(), lay.types(), lay.positions(), wordTable == null ? wordEmb : wordTable),
        config.hiddenDropout(), training);
    int heads = config.numHeads();
    int hd = config.headSize();
    long hidden = (long) heads * hd;
    NDArray scale = m.create((float) (1.0 / Math.sqrt(hd)));
    for (int li = 0; li < layers.length; li++) {
      Layer l = layers[li];
      boolean clsQueries = clsOnly && li == layers.length - 1;
      // queries first: the order ops are recorded in is the order autograd sums x's gradient in, and training's
      // output is kept bit for bit
      NDArray q = clsQueries ? null
          : lay.toSlots(l.q.apply(x)).reshape(rows, seq, heads, hd).transpose(0, 2, 1, 3).mul(scale);
      NDArray k = lay.toSlots(l.k.apply(x)).reshape(rows, seq, heads, hd).transpose(0, 2, 3, 1);
      NDArray v = lay.toSlots(l.v.apply(x)).reshape(rows, seq, heads, hd).transpose(0, 2, 1, 3);
      if (clsQueries) {
        x = lay.clsRows(x);
        q = l.q.apply(x).reshape(rows, 1, heads, hd).transpose(0, 2, 1, 3).mul(scale);
      }
      NDArray scores = q.matMul(k);
      if (lay.maskBias() != null) {
        scores = scores.add(lay.maskBias());
      }
      NDArray ctx = dropout(scores.softmax(-1), config.attentionDropout(), training).matMul(v);
      NDArray attended = clsQueries ? ctx.transpose(0, 2, 1, 3).reshape(rows, hidden) : lay.fromSlots(ctx, hidden);
      x = outputAndFeedForward(l, attended, x, training);
      if (layerCls != null) {
        layerCls.add(x.get(new NDIndex(":, 0, :")));
      }
    }
    return x;
  }

  private int checkSeq(Batch b) {
    int seq = b.seqLen();
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
    return norm(embNorm, x);
  }

  /** A layer after attention: output projection, residual and LayerNorm, then feed-forward, residual and LayerNorm. */
  private NDArray outputAndFeedForward(Layer l, NDArray ctx, NDArray x, boolean training) {
    NDArray a = dropout(l.attentionOut.apply(ctx), config.hiddenDropout(), training);
    x = norm(l.attentionNorm, a.add(x));
    NDArray h = Activation.gelu(l.intermediate.apply(x));
    NDArray o = dropout(l.out.apply(h), config.hiddenDropout(), training);
    return norm(l.outNorm, o.add(x));
  }

  private NDArray norm(Norm n, NDArray x) {
    return LayerNorm.layerNorm(x, hiddenShape, n.w, n.b, eps).singletonOrThrow();
  }

  private static NDArray dropout(NDArray x, double p, boolean training) {
    if (!training || p <= 0) {
      return x;
    }
    return Dropout.dropout(x, (float) p, true).singletonOrThrow();
  }

  /**
   * {@code compute}'s arrays, each [rows, width], as host rows: gradients off on this thread, every intermediate in a
   * sub-manager closed before returning.
   */
  private float[][][] onHost(Batch b, Function<NDManager, NDList> compute) {
    boolean grad = JniUtils.isGradMode();
    if (grad) {
      JniUtils.setGradMode(false);
    }
    try (NDManager m = manager.newSubManager()) {
      NDList arrays = compute.apply(m);
      float[][][] out = new float[arrays.size()][][];
      for (int i = 0; i < out.length; i++) {
        int width = (int) arrays.get(i).getShape().get(1);
        float[] p = arrays.get(i).toFloatArray();
        out[i] = new float[b.rows()][];
        for (int r = 0; r < b.rows(); r++) {
          out[i][r] = Arrays.copyOfRange(p, r * width, (r + 1) * width);
        }
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

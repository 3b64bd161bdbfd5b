package dev.finemix.purify.onnx;

import dev.finemix.purify.onnx.OnnxProto.Init;
import dev.finemix.purify.onnx.OnnxProto.Model;
import dev.finemix.purify.onnx.OnnxProto.Node;
import dev.finemix.purify.onnx.OnnxProto.Replacement;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.purify.weights.WeightsException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A checkpoint's encoder written into its base's own ONNX graph: the catalogued base's graph (fp32) or its
 * dynamically quantized twin (int8), every weight initializer replaced by the checkpoint's, every other byte kept.
 * Names follow {@code OnnxWeights}: initializers that keep their Hugging Face names are taken as they are; MatMul
 * weights ({@code onnx::MatMul_N}, [in, out]) are named after the node that consumes them. In the int8 twin a weight
 * {@code X} is {@code X_quantized} with {@code X_scale} and {@code X_zero_point}: MatMulInteger weights int8 per output
 * channel, the embedding tables uint8 per tensor ({@link Quantization}); they are quantized afresh from the checkpoint.
 * The graph's output is the encoder's last hidden state; the pooler and head run in Java ({@link OnnxClassifier}).
 */
public final class OnnxGraph {
  private static final String QUANTIZED = "_quantized";
  private static final String SCALE = "_scale";
  private static final String ZERO_POINT = "_zero_point";

  private OnnxGraph() {}

  /**
   * The graph of {@code c} at {@code p}. A {@link WeightsException} when the checkpoint's base is not catalogued (no
   * graph to fill), when the base has no int8 twin and {@code p} is int8, or when the graph does not fit the weights.
   */
  public static byte[] of(Checkpoint c, Precision p) {
    String base = c.baseModelId();
    Pretrained.Base b = Pretrained.catalogued(base == null ? "" : base).orElseThrow(() -> new WeightsException(
        "precision " + p + " runs the base's ONNX graph, and the checkpoint's base '" + base + "' is not catalogued ("
            + Pretrained.catalogue().stream().map(Pretrained.Base::id).toList() + ")"));
    byte[] template;
    String source;
    if (p == Precision.INT8) {
      template = Pretrained.int8Onnx(b.id()).orElseThrow(() -> new WeightsException("precision int8: the base '"
          + b.id() + "' has no int8 graph (bases with one: " + Pretrained.catalogue().stream()
              .filter(Pretrained.Base::hasInt8).map(Pretrained.Base::id).toList() + "); serve it at fp32"));
      source = b.int8Resource();
    } else {
      template = Pretrained.onnx(b.id());
      source = b.onnxResource();
    }
    return refill(template, source, c.weights(), c.config(), Scheme.DEFAULT);
  }

  /**
   * How the int8 twin is refilled: {@code fp32Embeddings} turns its uint8 embedding tables back into fp32 (each
   * table's DequantizeLinear becomes an Identity; per-tensor uint8 costs the small entries most of their bits);
   * {@code weightRange} is the int8 range of the linear weights (0: the twin's own, 64).
   */
  record Scheme(boolean fp32Embeddings, int weightRange, List<String> fp32Modules) {
    static final Scheme TWIN = new Scheme(false, 0, List.of());

    boolean fp32(String hf) {
      return fp32Modules.stream().anyMatch(m -> hf.endsWith("." + m + ".weight")
          && !(m.equals(BertTensors.OUTPUT) && hf.endsWith(BertTensors.ATTENTION_OUTPUT + ".weight")));
    }
    /**
     * The twin's scheme but for the feed-forward output projections ({@code output.dense}, a third of the GEMM work),
     * which stay fp32: their input, after GELU, has outlier channels that per-tensor uint8 activations lose. On the
     * purified SST-2 demo model (872 dev rows) agreement with fp32 went from 0.9805 to 0.9908 (fp32 embeddings or
     * full-range weights gave 0.977-0.986; attention output or FFN input in fp32 instead 0.973 / 0.976).
     */
    static final Scheme DEFAULT = new Scheme(false, 0, List.of(BertTensors.OUTPUT));
  }

  /**
   * {@code template} with its weight initializers taken from {@code w} ({@code bert.}-prefixed names). Refuses a
   * graph with float or 8-bit initializers it cannot map (naming them), or one that leaves encoder tensors unused.
   */
  static byte[] refill(byte[] template, String source, TensorMap w, BertConfig config) {
    return refill(template, source, w, config, Scheme.DEFAULT);
  }

  static byte[] refill(byte[] template, String source, TensorMap w, BertConfig config, Scheme scheme) {
    Model m = OnnxProto.parse(template, source);
    Map<String, Init> byName = new HashMap<>();
    m.inits().forEach(i -> byName.put(i.name(), i));
    Map<String, String> weightOf = new HashMap<>();
    for (Node n : m.nodes()) {
      String suffix = n.opType().equals("MatMul") ? "/MatMul" : n.opType().equals("MatMulInteger") ? "/MatMul_quant"
          : null;
      if (suffix != null && n.inputs().size() >= 2 && n.name().startsWith("/") && n.name().endsWith(suffix)) {
        weightOf.put(n.inputs().get(1), BertTensors.ENCODER_PREFIX
            + n.name().substring(1, n.name().length() - suffix.length()).replace('/', '.') + ".weight");
      }
    }
    Map<String, Replacement> rep = new LinkedHashMap<>();
    Map<String, Node> nodes = new LinkedHashMap<>();
    Set<String> written = new HashSet<>();
    List<String> unmapped = new ArrayList<>();
    for (Init i : m.inits()) {
      String name = i.name();
      if (i.size() <= 1 && !name.endsWith(QUANTIZED) || quantizationOf(name, byName)) {
        continue; // graph constants; a scale or zero point, written with its quantized weight
      }
      if (i.dataType() == OnnxProto.FLOAT) {
        String hf = weightOf.get(name);
        if (hf != null) {
          rep.put(name, floats(i.dims(), onnxLayout(w, hf, i, source)));
          written.add(hf);
        } else if (hfNamed(name)) {
          String full = BertTensors.ENCODER_PREFIX + name;
          rep.put(name, floats(i.dims(), checked(w, full, i.dims(), source).data()));
          written.add(full);
        } else {
          unmapped.add(name + Arrays.toString(i.dims()));
        }
      } else if ((i.dataType() == OnnxProto.INT8 || i.dataType() == OnnxProto.UINT8) && name.endsWith(QUANTIZED)) {
        String stem = stem(name, QUANTIZED);
        Init scale = byName.get(stem + SCALE);
        Init zero = byName.get(stem + ZERO_POINT);
        String hf = weightOf.getOrDefault(name, hfNamed(stem) ? BertTensors.ENCODER_PREFIX + stem : null);
        if (hf == null || scale == null || zero == null) {
          unmapped.add(name + Arrays.toString(i.dims()));
          continue;
        }
        quantize(m, i, scale, zero, hf, weightOf.containsKey(name) ? onnxLayout(w, hf, i, source)
            : checked(w, hf, i.dims(), source).data(), scheme, rep, nodes);
        written.add(hf);
      } else if (i.dataType() == OnnxProto.FLOAT || i.dataType() == OnnxProto.INT8
          || i.dataType() == OnnxProto.UINT8) {
        unmapped.add(name + Arrays.toString(i.dims()));
      }
    }
    boolean graphHasPooler = written.contains(BertTensors.weight(BertTensors.POOLER));
    List<String> unused = BertTensors.shapes(config, false).keySet().stream()
        .filter(n -> graphHasPooler || !n.startsWith(BertTensors.POOLER))
        .filter(n -> !written.contains(n)).toList();
    if (!unmapped.isEmpty() || !unused.isEmpty()) {
      throw new WeightsException(source + ": cannot fill the ONNX graph with the checkpoint's encoder: initializers "
          + "not mapped: " + (unmapped.isEmpty() ? "none" : firstFew(unmapped)) + "; encoder tensors the graph does "
          + "not take: " + (unused.isEmpty() ? "none" : firstFew(unused))
          + " (weights keep their Hugging Face names or are named after their MatMul node, /encoder/layer.N/.../MatMul)");
    }
    return OnnxProto.rewrite(m, rep, nodes);
  }

  /**
   * Writes the quantized weight, its scale and zero point in the template's scheme: int8 per column (the scale has one
   * value per column) with the template's range, or uint8 per tensor (a scalar scale; with
   * {@link Scheme#fp32Embeddings}, fp32 behind an Identity instead). Anything else is refused.
   */
  private static void quantize(Model m, Init q, Init scale, Init zero, String hf, float[] data, Scheme scheme,
      Map<String, Replacement> rep, Map<String, Node> nodes) {
    long cols = q.dims().length == 2 ? q.dims()[1] : -1;
    Quantization.Result r;
    if (q.dataType() == OnnxProto.INT8 && cols > 0 && scale.size() == cols && zero.size() == cols
        && scheme.fp32(hf)) {
      unquantize(m, q, data, rep, nodes);
      return;
    }
    if (q.dataType() == OnnxProto.INT8 && cols > 0 && scale.size() == cols && zero.size() == cols) {
      int range = scheme.weightRange() > 0 ? scheme.weightRange() : signedRange(m, q);
      r = Quantization.int8PerColumn(data, (int) q.dims()[0], (int) cols, range);
    } else if (q.dataType() == OnnxProto.UINT8 && scale.size() == 1 && zero.size() == 1) {
      Node dq = scheme.fp32Embeddings() ? m.nodes().stream().filter(n -> n.opType().equals("DequantizeLinear")
          && n.inputs().size() == 3 && n.inputs().get(1).equals(scale.name())).findFirst().orElse(null) : null;
      if (dq != null) {
        nodes.put(dq.name(), new Node(dq.name(), "Identity", List.of(dq.inputs().get(0)), dq.outputs()));
        rep.put(q.name(), floats(q.dims(), data));
        rep.put(scale.name(), Replacement.DROP);
        rep.put(zero.name(), Replacement.DROP);
        return;
      }
      r = Quantization.uint8PerTensor(data);
    } else {
      throw new WeightsException(m.source() + ": " + q.name() + " (" + hf + ") is quantized in a scheme this reader "
          + "does not rewrite (int8 per column or uint8 per tensor): type " + q.dataType() + ", scale "
          + Arrays.toString(scale.dims()));
    }
    rep.put(q.name(), new Replacement(q.dataType(), q.dims(), r.q()));
    rep.put(scale.name(), floats(scale.dims(), r.scale()));
    rep.put(zero.name(), new Replacement(zero.dataType(), zero.dims(), r.zeroPoint()));
  }

  /**
   * Runs one quantized MatMul in fp32 again: its MatMulInteger becomes a MatMul of the float input (what the
   * DynamicQuantizeLinear before it reads) and the fp32 weight, the Cast and the output scaling after it Identities.
   */
  private static void unquantize(Model m, Init q, float[] data, Map<String, Replacement> rep, Map<String, Node> nodes) {
    Node mmi = only(m, n -> n.opType().equals("MatMulInteger") && n.inputs().get(1).equals(q.name()), q.name());
    Node dql = only(m, n -> n.opType().equals("DynamicQuantizeLinear") && n.outputs().get(0)
        .equals(mmi.inputs().get(0)), mmi.name());
    Node cast = only(m, n -> n.opType().equals("Cast") && n.inputs().get(0).equals(mmi.outputs().get(0)), mmi.name());
    Node mul = only(m, n -> n.opType().equals("Mul") && n.inputs().get(0).equals(cast.outputs().get(0)), cast.name());
    nodes.put(mmi.name(), new Node(mmi.name(), "MatMul", List.of(dql.inputs().get(0), q.name()), mmi.outputs()));
    nodes.put(cast.name(), new Node(cast.name(), "Identity", cast.inputs(), cast.outputs()));
    nodes.put(mul.name(), new Node(mul.name(), "Identity", List.of(mul.inputs().get(0)), mul.outputs()));
    rep.put(q.name(), floats(q.dims(), data));
    rep.put(mmi.inputs().get(3), Replacement.DROP); // the weight's zero point; its scale still feeds a (dead) Mul
  }

  private static Node only(Model m, java.util.function.Predicate<Node> p, String of) {
    List<Node> found = m.nodes().stream().filter(p).toList();
    if (found.size() != 1) {
      throw new WeightsException(m.source() + ": expected one node next to " + of + ", found " + found.size());
    }
    return found.get(0);
  }

  /** The template's own int8 range: 64 when it never goes past it (ORT's reduced range), else 127. */
  private static int signedRange(Model m, Init q) {
    int max = 0;
    for (byte b : m.raw(q)) {
      max = Math.max(max, Math.abs(b));
    }
    return max <= 64 ? 64 : 127;
  }

  /** The Hugging Face [out, in] weight as the graph's MatMul [in, out]. */
  private static float[] onnxLayout(TensorMap w, String hf, Init i, String source) {
    if (i.dims().length != 2) {
      throw new WeightsException(source + ": MatMul weight " + i.name() + " is not 2-D");
    }
    Tensor t = checked(w, hf, new long[] {i.dims()[1], i.dims()[0]}, source);
    int out = (int) i.dims()[1];
    int in = (int) i.dims()[0];
    float[] d = t.data();
    float[] o = new float[d.length];
    for (int r = 0; r < out; r++) {
      for (int c = 0; c < in; c++) {
        o[c * out + r] = d[r * in + c];
      }
    }
    return o;
  }

  private static Tensor checked(TensorMap w, String name, long[] dims, String source) {
    Tensor t = w.get(name);
    if (t == null) {
      throw new WeightsException(source + ": the graph takes '" + name + "', which the checkpoint lacks");
    }
    if (!Arrays.equals(t.shape(), dims)) {
      throw new WeightsException(source + ": tensor '" + name + "' has shape " + Arrays.toString(t.shape())
          + ", the graph needs " + Arrays.toString(dims));
    }
    return t;
  }

  /** True for {@code X_scale} or {@code X_zero_point} beside an {@code X_quantized}. */
  private static boolean quantizationOf(String name, Map<String, Init> byName) {
    return name.endsWith(SCALE) && byName.containsKey(stem(name, SCALE) + QUANTIZED)
        || name.endsWith(ZERO_POINT) && byName.containsKey(stem(name, ZERO_POINT) + QUANTIZED);
  }

  private static boolean hfNamed(String name) {
    return name.startsWith("embeddings.") || name.startsWith("encoder.") || name.startsWith("pooler.");
  }

  private static String stem(String name, String suffix) {
    return name.substring(0, name.length() - suffix.length());
  }

  private static Replacement floats(long[] dims, float[] v) {
    ByteBuffer b = ByteBuffer.allocate(v.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    b.asFloatBuffer().put(v);
    return new Replacement(OnnxProto.FLOAT, dims, b.array());
  }

  private static String firstFew(List<String> names) {
    return names.size() <= 8 ? names.toString() : names.subList(0, 8) + " and " + (names.size() - 8) + " more";
  }
}

package dev.finemix.purify.weights;

import com.google.protobuf.CodedInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads the weights of a BERT ONNX export from its graph initializers, with a minimal protobuf reader (only the
 * ModelProto / GraphProto / NodeProto / TensorProto fields needed). Tensors that keep their Hugging Face names are
 * taken as they are; the MatMul weights named {@code onnx::MatMul_N} are renamed after the node that consumes them
 * ({@code /encoder/layer.3/attention/self/query/MatMul} -> {@code encoder.layer.3.attention.self.query.weight}) and
 * transposed from ONNX's [in, out] to PyTorch's [out, in]. This covers the {@code torch.onnx} / optimum exports of
 * BERT-family encoders (MiniLM, bge, e5): they differ only in which initializers keep their names. A graph that names
 * things otherwise is refused, naming the tensors it lacks and the initializers it could not map.
 */
final class OnnxWeights {
  private static final int FLOAT = 1;

  private OnnxWeights() {}

  record Raw(String name, long[] dims, int dataType, float[] data) {}

  record Node(String name, String opType, List<String> inputs) {}

  /**
   * Returns Hugging Face {@code BertModel} names (no {@code bert.} prefix): every tensor {@code config} needs, or a
   * {@link WeightsException} naming those missing and the float initializers left unmapped. The pooler is optional:
   * exports made for embeddings (bge, e5) drop it, as their graph's outputs do not use it.
   */
  static TensorMap readBert(byte[] onnx, String source, BertConfig config) {
    List<Raw> inits = new ArrayList<>();
    List<Node> nodes = new ArrayList<>();
    try {
      CodedInputStream model = CodedInputStream.newInstance(onnx);
      model.setSizeLimit(Integer.MAX_VALUE);
      boolean sawGraph = false;
      while (true) {
        int tag = model.readTag();
        if (tag == 0) {
          break;
        }
        if (tag >>> 3 == 7 && (tag & 7) == 2) { // ModelProto.graph
          sawGraph = true;
          int limit = model.pushLimit(model.readRawVarint32());
          readGraph(model, inits, nodes);
          model.popLimit(limit);
        } else {
          model.skipField(tag);
        }
      }
      if (!sawGraph) {
        throw new WeightsException(source + ": not an ONNX model (no graph)");
      }
    } catch (IOException e) {
      throw new WeightsException(source + ": cannot parse ONNX: " + e.getMessage(), e);
    }
    Map<String, String> matMulName = new HashMap<>();
    for (Node n : nodes) {
      if (n.opType().equals("MatMul") && n.inputs().size() == 2) {
        String path = n.name();
        if (path.startsWith("/") && path.endsWith("/MatMul")) {
          String hf = path.substring(1, path.length() - "/MatMul".length()).replace('/', '.') + ".weight";
          matMulName.put(n.inputs().get(1), hf);
        }
      }
    }
    TensorMap out = new TensorMap();
    List<String> unmapped = new ArrayList<>();
    for (Raw r : inits) {
      if (r.dataType() != FLOAT || r.data() == null) {
        continue;
      }
      String hf = matMulName.get(r.name());
      if (hf != null) {
        if (r.dims().length != 2) {
          throw new WeightsException(source + ": MatMul weight " + r.name() + " is not 2-D");
        }
        out.put(hf, transpose(r.dims(), r.data()));
      } else if (r.name().startsWith("embeddings.") || r.name().startsWith("encoder.")
          || r.name().startsWith("pooler.")) {
        out.put(r.name(), new Tensor(r.dims(), r.data()));
      } else if (r.dims().length >= 1 && r.data().length > 1) { // scalars are graph constants, not weights
        unmapped.add(r.name() + Arrays.toString(r.dims()));
      }
    }
    List<String> missing = BertTensors.shapes(config, false).keySet().stream()
        .filter(n -> !n.startsWith(BertTensors.POOLER))
        .map(n -> n.substring(BertTensors.ENCODER_PREFIX.length()))
        .filter(n -> !out.names().contains(n)).toList();
    if (!missing.isEmpty()) {
      throw new WeightsException(source + ": cannot map the ONNX graph onto a BERT encoder: missing "
          + firstFew(missing) + "; initializers not mapped: " + (unmapped.isEmpty() ? "none" : firstFew(unmapped))
          + " (MatMul weights are named after their consuming node, /encoder/layer.N/.../MatMul)");
    }
    return out;
  }

  private static String firstFew(List<String> names) {
    return names.size() <= 8 ? names.toString()
        : names.subList(0, 8) + " and " + (names.size() - 8) + " more";
  }

  private static Tensor transpose(long[] dims, float[] d) {
    int in = (int) dims[0];
    int outDim = (int) dims[1];
    float[] t = new float[d.length];
    for (int i = 0; i < in; i++) {
      for (int o = 0; o < outDim; o++) {
        t[o * in + i] = d[i * outDim + o];
      }
    }
    return new Tensor(new long[] {outDim, in}, t);
  }

  private static void readGraph(CodedInputStream g, List<Raw> inits, List<Node> nodes) throws IOException {
    while (!g.isAtEnd()) {
      int tag = g.readTag();
      int field = tag >>> 3;
      if (field == 1 && (tag & 7) == 2) {
        int limit = g.pushLimit(g.readRawVarint32());
        nodes.add(readNode(g));
        g.popLimit(limit);
      } else if (field == 5 && (tag & 7) == 2) {
        int limit = g.pushLimit(g.readRawVarint32());
        inits.add(readTensor(g));
        g.popLimit(limit);
      } else {
        g.skipField(tag);
      }
    }
  }

  private static Node readNode(CodedInputStream n) throws IOException {
    List<String> inputs = new ArrayList<>();
    String name = "";
    String op = "";
    while (!n.isAtEnd()) {
      int tag = n.readTag();
      switch (tag >>> 3) {
        case 1 -> inputs.add(n.readStringRequireUtf8());
        case 3 -> name = n.readStringRequireUtf8();
        case 4 -> op = n.readStringRequireUtf8();
        default -> n.skipField(tag);
      }
    }
    return new Node(name, op, inputs);
  }

  private static Raw readTensor(CodedInputStream t) throws IOException {
    List<Long> dims = new ArrayList<>();
    int dataType = 0;
    String name = "";
    byte[] raw = null;
    List<Float> floats = null;
    while (!t.isAtEnd()) {
      int tag = t.readTag();
      int field = tag >>> 3;
      int wire = tag & 7;
      if (field == 1) {
        if (wire == 2) {
          int limit = t.pushLimit(t.readRawVarint32());
          while (!t.isAtEnd()) {
            dims.add(t.readInt64());
          }
          t.popLimit(limit);
        } else {
          dims.add(t.readInt64());
        }
      } else if (field == 2) {
        dataType = t.readInt32();
      } else if (field == 4) {
        if (floats == null) {
          floats = new ArrayList<>();
        }
        if (wire == 2) {
          int limit = t.pushLimit(t.readRawVarint32());
          while (!t.isAtEnd()) {
            floats.add(t.readFloat());
          }
          t.popLimit(limit);
        } else {
          floats.add(t.readFloat());
        }
      } else if (field == 8) {
        name = t.readStringRequireUtf8();
      } else if (field == 9) {
        raw = t.readByteArray();
      } else {
        t.skipField(tag);
      }
    }
    long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
    float[] data = null;
    if (dataType == FLOAT) {
      if (raw != null) {
        data = new float[raw.length / 4];
        ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(data);
      } else if (floats != null) {
        data = new float[floats.size()];
        for (int i = 0; i < data.length; i++) {
          data[i] = floats.get(i);
        }
      }
    }
    return new Raw(name, shape, dataType, data);
  }

  static Map<String, long[]> shapes(TensorMap m) {
    Map<String, long[]> s = new LinkedHashMap<>();
    m.entries().forEach(e -> s.put(e.getKey(), e.getValue().shape()));
    return s;
  }
}

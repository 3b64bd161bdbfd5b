package dev.finemix.purify.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.protobuf.CodedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

/**
 * The ONNX import on hand-written graphs of a tiny BERT: Hugging Face-named initializers as they are, one MatMul
 * weight ({@code onnx::MatMul_7}, [in, out]) named after its consuming node, or refused when that node is named
 * otherwise.
 */
class OnnxWeightsTest {
  static final String QUERY = "encoder.layer.0.attention.self.query.weight";

  @Test
  void matMulWeight_isNamedAfterItsNode_andTransposed() throws Exception {
    BertConfig c = TinyModels.config(0);
    TensorMap w = TinyModels.weights(c, 3);
    TensorMap read = OnnxWeights.readBert(graph(w, "/encoder/layer.0/attention/self/query/MatMul"), "tiny.onnx", c);
    Tensor want = w.get("bert." + QUERY);
    assertThat(read.get(QUERY).shape()).containsExactly(want.shape());
    assertThat(read.get(QUERY).data()).containsExactly(want.data());
    assertThat(read.names()).hasSize(w.size());
  }

  @Test
  void unmappableGraph_isRefusedNamingTheMissingAndUnmappedTensors() throws Exception {
    BertConfig c = TinyModels.config(0);
    byte[] onnx = graph(TinyModels.weights(c, 3), "MatMul_42");
    assertThatThrownBy(() -> OnnxWeights.readBert(onnx, "odd.onnx", c)).isInstanceOf(WeightsException.class)
        .hasMessageStartingWith("odd.onnx: cannot map the ONNX graph onto a BERT encoder: missing [" + QUERY
            + "]; initializers not mapped: [onnx::MatMul_7[32, 32]]");
  }

  /** A ModelProto whose initializers are {@code w} (no {@code bert.} prefix), the query weight fed to {@code node}. */
  static byte[] graph(TensorMap w, String node) throws IOException {
    ByteArrayOutputStream g = new ByteArrayOutputStream();
    CodedOutputStream go = CodedOutputStream.newInstance(g);
    for (var e : w.entries()) {
      String name = e.getKey().substring(BertTensors.ENCODER_PREFIX.length());
      Tensor t = e.getValue();
      if (name.equals(QUERY)) {
        long[] s = t.shape(); // store as ONNX's [in, out]
        float[] tr = new float[t.data().length];
        for (int o = 0; o < s[0]; o++) {
          for (int i = 0; i < s[1]; i++) {
            tr[i * (int) s[0] + o] = t.data()[o * (int) s[1] + i];
          }
        }
        go.writeByteArray(5, tensor("onnx::MatMul_7", new long[] {s[1], s[0]}, tr));
      } else {
        go.writeByteArray(5, tensor(name, t.shape(), t.data()));
      }
    }
    ByteArrayOutputStream n = new ByteArrayOutputStream();
    CodedOutputStream no = CodedOutputStream.newInstance(n);
    no.writeString(1, "hidden");
    no.writeString(1, "onnx::MatMul_7");
    no.writeString(3, node);
    no.writeString(4, "MatMul");
    no.flush();
    go.writeByteArray(1, n.toByteArray());
    go.flush();
    ByteArrayOutputStream m = new ByteArrayOutputStream();
    CodedOutputStream mo = CodedOutputStream.newInstance(m);
    mo.writeByteArray(7, g.toByteArray());
    mo.flush();
    return m.toByteArray();
  }

  static byte[] tensor(String name, long[] dims, float[] data) throws IOException {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    CodedOutputStream o = CodedOutputStream.newInstance(b);
    for (long d : dims) {
      o.writeInt64(1, d);
    }
    o.writeInt32(2, 1);
    o.writeString(8, name);
    ByteBuffer raw = ByteBuffer.allocate(data.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    raw.asFloatBuffer().put(data);
    o.writeByteArray(9, raw.array());
    o.flush();
    return b.toByteArray();
  }
}

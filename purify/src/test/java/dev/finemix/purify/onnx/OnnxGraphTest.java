package dev.finemix.purify.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.finemix.purify.onnx.OnnxProto.Init;
import dev.finemix.purify.onnx.OnnxProto.Model;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.purify.weights.WeightsException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Writing a checkpoint's encoder into its base's ONNX graphs: exactness, the int8 scheme, and refusals. */
class OnnxGraphTest {

  @Test
  void fp32Refill_withTheBasesOwnWeights_isByteIdenticalToTheBaseGraph() {
    byte[] base = Pretrained.onnx(Pretrained.MINILM);
    Pretrained p = Pretrained.load(Pretrained.MINILM);
    byte[] out = OnnxGraph.refill(base, "minilm", p.weights(), p.config());
    assertThat(out).isEqualTo(base);
  }

  /**
   * The scheme is ONNX Runtime's own: quantizing the clean fp32 weights gives back the twin's bytes (a handful of
   * rounding ties aside) and its scales to float precision.
   */
  @Test
  void int8Refill_ofTheCleanBase_reproducesTheTwinsQuantizedWeights() {
    byte[] twin = Pretrained.int8Onnx(Pretrained.MINILM).orElseThrow();
    Pretrained p = Pretrained.load(Pretrained.MINILM);
    Model ours = OnnxProto.parse(OnnxGraph.refill(twin, "twin", p.weights(), p.config(), OnnxGraph.Scheme.TWIN),
        "ours");
    Model theirs = OnnxProto.parse(twin, "twin");
    Map<String, Init> mine = new HashMap<>();
    ours.inits().forEach(i -> mine.put(i.name(), i));
    long bytes = 0;
    long differ = 0;
    int quantized = 0;
    double worstScale = 0;
    for (Init t : theirs.inits()) {
      Init o = mine.get(t.name());
      assertThat(o).as(t.name()).isNotNull();
      assertThat(o.dims()).as(t.name()).isEqualTo(t.dims());
      assertThat(o.dataType()).as(t.name()).isEqualTo(t.dataType());
      if (t.name().endsWith("_quantized")) {
        quantized++;
        byte[] a = ours.raw(o);
        byte[] b = theirs.raw(t);
        for (int k = 0; k < a.length; k++) {
          differ += a[k] == b[k] ? 0 : 1;
        }
        bytes += a.length;
        float[] s = floats(ours.raw(mine.get(t.name().replace("_quantized", "_scale"))));
        Init scale = theirs.inits().stream().filter(i -> i.name().equals(t.name().replace("_quantized", "_scale")))
            .findFirst().orElseThrow();
        float[] ref = theirs.floats(scale);
        for (int k = 0; k < s.length; k++) {
          worstScale = Math.max(worstScale, Math.abs(s[k] - ref[k]) / ref[k]);
        }
      }
    }
    assertThat(quantized).isEqualTo(36 + 3); // the encoder's linear weights and the three embedding tables
    assertThat((double) differ / bytes).isLessThan(1e-5);
    assertThat(worstScale).isLessThan(1e-6);
    System.out.printf("int8 refill of the clean base: %d of %d weight bytes differ from the twin's, worst scale "
        + "relative diff %.1e%n", differ, bytes, worstScale);
  }

  @Test
  void refill_aGraphWithAnUnmappableInitializer_isRefusedNamingIt() {
    byte[] base = Pretrained.onnx(Pretrained.MINILM);
    // rename the key projection's MatMul node (same length, so the protobuf stays well-formed; the '"' is the tag
    // of the op_type field that follows the node's name): its weight initializer no longer maps to a Hugging Face name
    byte[] renamed = replaceOnce(base, "/encoder/layer.2/attention/self/key/MatMul\"",
        "/encoder/layer.2/attention/self/key/MatMuX\"");
    Pretrained p = Pretrained.load(Pretrained.MINILM);
    assertThatThrownBy(() -> OnnxGraph.refill(renamed, "renamed.onnx", p.weights(), p.config()))
        .isInstanceOf(WeightsException.class)
        .hasMessageContaining("renamed.onnx: cannot fill the ONNX graph")
        .hasMessageMatching("(?s).*initializers not mapped: \\[onnx::MatMul_\\d+\\[384, 384]].*")
        .hasMessageContaining("encoder tensors the graph does not take: [bert.encoder.layer.2.attention.self.key.weight]");
  }

  @Test
  void int8_forABaseWithoutAnInt8Twin_isRefusedSayingWhich() {
    Pretrained p = Pretrained.load(Pretrained.MINILM);
    BertConfig c = p.config().withLabels(MiniLmModels.LABELS);
    TensorMap w = p.weights().copy();
    w.put(BertTensors.weight(BertTensors.HEAD), BertClassifier.randomHead(2, c.hiddenSize(), 1));
    w.put(BertTensors.bias(BertTensors.HEAD), new Tensor(new long[] {2}, new float[2]));
    Checkpoint onBge = Checkpoint.of(c, w, p.tokenizerJson(),
        Pretrained.BGE_SMALL, 128);
    assertThatThrownBy(() -> OnnxGraph.of(onBge, Precision.INT8))
        .isInstanceOf(WeightsException.class)
        .hasMessage("precision int8: the base '" + Pretrained.BGE_SMALL + "' has no int8 graph (bases with one: ["
            + Pretrained.MINILM + "]); serve it at fp32");
    Checkpoint onFolder = Checkpoint.of(c, onBge.weights(), p.tokenizerJson(), "/models/my-base", 128);
    assertThatThrownBy(() -> OnnxGraph.of(onFolder, Precision.INT8))
        .isInstanceOf(WeightsException.class)
        .hasMessageStartingWith("precision int8 runs the base's ONNX graph, and the checkpoint's base "
            + "'/models/my-base' is not catalogued");
  }

  @Test
  void precision_parse_acceptsTheIdsAndNamesTheChoicesOtherwise() {
    assertThat(Precision.parse("INT8")).isEqualTo(Precision.INT8);
    assertThat(Precision.parse(" fp32")).isEqualTo(Precision.FP32);
    assertThatThrownBy(() -> Precision.parse("fp16")).hasMessage("unknown precision 'fp16': expected one of "
        + "[fp32, int8]");
  }

  /** {@code in} with the one occurrence of {@code from} replaced by {@code to} (same length). */
  static byte[] replaceOnce(byte[] in, String from, String to) {
    byte[] f = from.getBytes(StandardCharsets.UTF_8);
    byte[] t = to.getBytes(StandardCharsets.UTF_8);
    assertThat(t).hasSameSizeAs(f);
    int at = -1;
    int found = 0;
    outer:
    for (int i = 0; i + f.length <= in.length; i++) {
      for (int k = 0; k < f.length; k++) {
        if (in[i + k] != f[k]) {
          continue outer;
        }
      }
      at = i;
      found++;
    }
    assertThat(found).as("occurrences of '%s' in the graph", from).isEqualTo(1);
    byte[] out = in.clone();
    System.arraycopy(t, 0, out, at, t.length);
    return out;
  }

  static float[] floats(byte[] raw) {
    float[] f = new float[raw.length / 4];
    ByteBuffer.wrap(raw).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
    return f;
  }
}

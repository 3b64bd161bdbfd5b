package dev.finemix.purify.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.finemix.purify.text.Batch;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.Pretrained;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The hand-written encoder against ONNX Runtime running the same ONNX file, for every catalogued base: last hidden
 * state (the graph's first output), non-padding positions, max abs diff below 1e-4. Measured: 3e-6 (MiniLM). The
 * 12-layer bases (~130 MB graphs) run a few batches only, so the default test run stays short.
 */
class OnnxParityTest {

  static final double TOLERANCE = 1e-4;

  static OrtEnvironment env;

  /** Per-base state of the running row (one base at a time: a 12-layer graph is 130 MB twice over). */
  OrtSession session;
  BertClassifier model;
  Tokenizer tokenizer;

  @BeforeAll
  static void environment() {
    env = OrtEnvironment.getEnvironment();
  }

  void load(String id) throws Exception {
    Pretrained pre = Pretrained.load(id);
    model = BertClassifier.fromPretrained(pre, List.of("0", "1"), 1, Device.cpu());
    tokenizer = Tokenizer.fromFile(pre.tokenizerJson(), 512);
    OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
    opts.setIntraOpNumThreads(1);
    session = env.createSession(Pretrained.onnx(id), opts);
  }

  @AfterEach
  void close() throws Exception {
    if (session != null) {
      session.close();
    }
    if (model != null) {
      model.close();
    }
    if (tokenizer != null) {
      tokenizer.close();
    }
  }

  /**
   * Every catalogue entry with the batches it runs: all for MiniLM; else batches 3..4, a sentence pair and five
   * padded rows of mixed length (the cases where a wrong position, type or mask handling would show).
   */
  static Stream<Arguments> catalogue() {
    return Pretrained.catalogue().stream().map(b -> b.id().equals(Pretrained.MINILM)
        ? Arguments.of(b.id(), 0, batches().size()) : Arguments.of(b.id(), 3, 5));
  }

  static String longText() {
    StringBuilder sb = new StringBuilder();
    String[] words = {"the", "film", "is", "a", "remarkably", "uneven", "but", "often", "touching", "portrait",
        "of", "grief", ",", "and", "its", "cast", "never", "quite", "finds", "tone", "."};
    for (int i = 0; i < 200; i++) {
      sb.append(words[(i * 7) % words.length]).append(' ');
    }
    return sb.toString();
  }

  static List<List<TextInput>> batches() {
    List<List<TextInput>> b = new ArrayList<>();
    b.add(List.of(TextInput.of("hi")));
    b.add(List.of(TextInput.of("a gripping, funny and ultimately heartbreaking film.")));
    b.add(List.of(TextInput.of(longText())));
    b.add(List.of(new TextInput("What is the capital of France?", "Paris is the capital and largest city of France.")));
    b.add(List.of(
        TextInput.of("ok"),
        TextInput.of("contains no wit , only labored gags"),
        TextInput.of("Naïve café-goers rejoice: ÜBER-cool déjà vu, 100% «unicode» — émojis 🙂 too!"),
        TextInput.of(longText().substring(0, 300)),
        TextInput.of("that loves its characters and communicates something rather beautiful about human nature")));
    b.add(List.of(
        new TextInput("Who wrote Hamlet?", "Shakespeare wrote it around 1600."),
        new TextInput("How many legs does a spider have?", "Spiders have eight legs, unlike insects which have six, "
            + "and most of them also have eight eyes arranged in rows."),
        new TextInput("Why?", "Because."),
        TextInput.of("a single sentence among pairs")));
    b.add(List.of(
        TextInput.of(longText()),
        TextInput.of("short one"),
        TextInput.of("THE QUICK BROWN FOX JUMPS OVER THE LAZY DOG 1234567890"),
        TextInput.of("   leading and trailing spaces   "),
        TextInput.of("hide new secretions from the parental units"),
        TextInput.of("remains utterly satisfied to remain the same throughout")));
    b.add(List.of(
        new TextInput("is this a question", longText().substring(0, 400)),
        new TextInput("short", "pair"),
        TextInput.of("[CLS] literal special tokens [SEP] inside [MASK] text [UNK]")));
    return b;
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("catalogue")
  void hidden_matchesOnnxRuntime_onNonPaddingPositions(String id, int from, int to) throws Exception {
    load(id);
    int inputs = 0;
    double worst = 0;
    for (List<TextInput> in : batches().subList(from, to)) {
      inputs += in.size();
      List<Encoding> enc = tokenizer.encodeAll(in);
      Batch b = Batch.of(enc);
      float[] ours;
      boolean grad = ai.djl.pytorch.jni.JniUtils.isGradMode();
      ai.djl.pytorch.jni.JniUtils.setGradMode(false);
      try (NDManager m = NDManager.newBaseManager(Device.cpu())) {
        ours = model.hidden(m, b).toFloatArray();
      } finally {
        ai.djl.pytorch.jni.JniUtils.setGradMode(grad);
      }
      float[] ref = onnxHidden(b);
      assertThat(ours).hasSameSizeAs(ref);
      int h = model.config().hiddenSize();
      for (int r = 0; r < b.rows(); r++) {
        for (int t = 0; t < b.seqLen(); t++) {
          if (b.mask()[r * b.seqLen() + t] == 0) {
            continue;
          }
          int base = (r * b.seqLen() + t) * h;
          for (int j = 0; j < h; j++) {
            double diff = Math.abs(ours[base + j] - ref[base + j]);
            worst = Math.max(worst, diff);
            assertThat(diff).as("row %d token %d dim %d of %s", r, t, j, in.get(r)).isLessThan(TOLERANCE);
          }
        }
      }
    }
    assertThat(inputs).isGreaterThanOrEqualTo(to - from == batches().size() ? 20 : 6);
    assertThat(worst).isLessThan(TOLERANCE);
    System.out.printf("ONNX parity %s: %d inputs, max abs diff %.2e%n", id, inputs, worst);
  }

  @Test
  void longestInput_isAbout200Tokens() throws Exception {
    load(Pretrained.MINILM);
    assertThat(tokenizer.encode(longText(), null).length()).isBetween(190, 260);
  }

  float[] onnxHidden(Batch b) throws Exception {
    long[] shape = {b.rows(), b.seqLen()};
    try (OnnxTensor ids = OnnxTensor.createTensor(env, LongBuffer.wrap(b.ids()), shape);
        OnnxTensor mask = OnnxTensor.createTensor(env, LongBuffer.wrap(b.mask()), shape);
        OnnxTensor types = OnnxTensor.createTensor(env, LongBuffer.wrap(b.typeIds()), shape);
        OrtSession.Result res = session.run(Map.of("input_ids", ids, "attention_mask", mask,
            "token_type_ids", types))) {
      // the first output is the last hidden state, [rows, seq, hidden] (MiniLM: "output_0"; bge, e5:
      // "last_hidden_state")
      OnnxTensor out = (OnnxTensor) res.get(0);
      assertThat(((ai.onnxruntime.TensorInfo) out.getInfo()).getShape())
          .containsExactly(b.rows(), b.seqLen(), model.config().hiddenSize());
      java.nio.FloatBuffer fb = out.getFloatBuffer();
      float[] a = new float[fb.remaining()];
      fb.get(a);
      return a;
    }
  }
}

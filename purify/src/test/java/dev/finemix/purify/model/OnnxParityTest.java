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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The hand-written encoder against ONNX Runtime running the same MiniLM ONNX file: last hidden state
 * (the graph's first output), non-padding positions, max abs diff below 1e-4. Measured: 3e-6.
 */
class OnnxParityTest {

  static final double TOLERANCE = 1e-4;

  static OrtEnvironment env;
  static OrtSession session;
  static BertClassifier model;
  static Tokenizer tokenizer;

  @BeforeAll
  static void load() throws Exception {
    Pretrained pre = Pretrained.load(Pretrained.MINILM);
    model = BertClassifier.fromPretrained(pre, List.of("0", "1"), 1, Device.cpu());
    tokenizer = Tokenizer.fromFile(pre.tokenizerJson(), 512);
    byte[] onnx = Pretrained.onnx(Pretrained.MINILM);
    env = OrtEnvironment.getEnvironment();
    OrtSession.SessionOptions opts = new OrtSession.SessionOptions();
    opts.setIntraOpNumThreads(1);
    session = env.createSession(onnx, opts);
  }

  @AfterAll
  static void close() throws Exception {
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

  @Test
  void hidden_matchesOnnxRuntime_onNonPaddingPositions() throws Exception {
    int inputs = 0;
    double worst = 0;
    for (List<TextInput> in : batches()) {
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
    assertThat(inputs).isGreaterThanOrEqualTo(20);
    assertThat(worst).isLessThan(TOLERANCE);
    System.out.printf("ONNX parity: %d inputs, max abs diff %.2e%n", inputs, worst);
  }

  @Test
  void longestInput_isAbout200Tokens() {
    assertThat(tokenizer.encode(longText(), null).length()).isBetween(190, 260);
  }

  static float[] onnxHidden(Batch b) throws Exception {
    long[] shape = {b.rows(), b.seqLen()};
    try (OnnxTensor ids = OnnxTensor.createTensor(env, LongBuffer.wrap(b.ids()), shape);
        OnnxTensor mask = OnnxTensor.createTensor(env, LongBuffer.wrap(b.mask()), shape);
        OnnxTensor types = OnnxTensor.createTensor(env, LongBuffer.wrap(b.typeIds()), shape);
        OrtSession.Result res = session.run(Map.of("input_ids", ids, "attention_mask", mask,
            "token_type_ids", types))) {
      // this export names its outputs "output_0" (last hidden state, [rows, seq, hidden]) and "882" (pooler)
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

package dev.finemix.purify.onnx;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.text.Batch;
import dev.finemix.purify.text.Batches;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.WeightsException;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A checkpoint served by ONNX Runtime: the encoder is its {@link OnnxGraph} (fp32, or int8 with dynamically quantized
 * activations), the tanh pooler and the linear head run here in plain Java on the [CLS] state of the graph's first
 * output (the last hidden state), in fp32 (a few hundred kFLOP a row). {@link #probabilities} is the one inference
 * seam, as {@code BertClassifier.infer} is for libtorch: rows sorted by length, batches of at most
 * {@link BertClassifier#MAX_BATCH}, each padded to its longest row. Thread-safe ({@code OrtSession.run} is).
 */
public final class OnnxClassifier implements AutoCloseable {
  private final OrtEnvironment env;
  private final OrtSession session;
  private final Tokenizer tokenizer;
  private final Precision precision;
  private final BertConfig config;
  private final String output;
  private final Set<String> inputs;
  private final float[] poolerW;
  private final float[] poolerB;
  private final float[] headW;
  private final float[] headB;

  private OnnxClassifier(OrtEnvironment env, OrtSession session, Tokenizer tokenizer, Precision precision,
      Checkpoint c) throws OrtException {
    this.env = env;
    this.session = session;
    this.tokenizer = tokenizer;
    this.precision = precision;
    this.config = c.config();
    this.output = session.getOutputNames().iterator().next();
    this.inputs = session.getInputNames();
    for (String need : List.of("input_ids", "attention_mask")) {
      if (!inputs.contains(need)) {
        throw new WeightsException("the ONNX graph has no input '" + need + "' (inputs: " + inputs + ")");
      }
    }
    this.poolerW = c.weights().require(BertTensors.weight(BertTensors.POOLER)).data();
    this.poolerB = c.weights().require(BertTensors.bias(BertTensors.POOLER)).data();
    this.headW = c.weights().require(BertTensors.weight(BertTensors.HEAD)).data();
    this.headB = c.weights().require(BertTensors.bias(BertTensors.HEAD)).data();
  }

  /** {@code c} at {@code p}: its {@link OnnxGraph} built and opened. */
  public static OnnxClassifier open(Checkpoint c, Precision p, int threads) {
    return open(OnnxGraph.of(c, p), c, p, threads);
  }

  /**
   * Opens {@code graph} (an {@link OnnxGraph} of {@code c}) with {@code threads} intra-op threads, all graph
   * optimisations on; the pooler, head and tokenizer come from {@code c}.
   */
  public static OnnxClassifier open(byte[] graph, Checkpoint c, Precision p, int threads) {
    if (threads < 1) {
      throw new IllegalArgumentException("threads must be >= 1, got " + threads);
    }
    OrtEnvironment env = OrtEnvironment.getEnvironment();
    OrtSession session = null;
    Tokenizer tok = null;
    try (OrtSession.SessionOptions opts = new OrtSession.SessionOptions()) {
      opts.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
      opts.setExecutionMode(OrtSession.SessionOptions.ExecutionMode.SEQUENTIAL);
      opts.setIntraOpNumThreads(threads);
      opts.setInterOpNumThreads(1);
      session = env.createSession(graph, opts);
      tok = Tokenizer.fromFile(c.tokenizerJson(), c.maxLength());
      return new OnnxClassifier(env, session, tok, p, c);
    } catch (OrtException | RuntimeException e) {
      closeQuietly(session, tok);
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw new WeightsException("ONNX Runtime cannot open the " + p + " graph: " + e.getMessage(), e);
    }
  }

  /**
   * The one intra-op thread setting, shared with libtorch: {@code -Dai.djl.pytorch.num_threads} (the launcher's
   * {@code FINEMIX_THREADS}), 1 when unset.
   */
  public static int defaultThreads() {
    return Math.max(1, Integer.getInteger("ai.djl.pytorch.num_threads", 1));
  }

  /** Softmax probabilities [rows][labels], in input order. */
  public float[][] probabilities(List<Encoding> rows) {
    float[][] out = new float[rows.size()][];
    for (int[] idx : Batches.byLength(rows, BertClassifier.MAX_BATCH, false, null)) {
      List<Encoding> part = new ArrayList<>(idx.length);
      for (int i : idx) {
        part.add(rows.get(i));
      }
      float[][] p = batch(Batch.of(part));
      for (int j = 0; j < idx.length; j++) {
        out[idx[j]] = p[j];
      }
    }
    return out;
  }

  /** Predictions in input order. */
  public List<Prediction> predict(List<TextInput> in) {
    return predictEncoded(tokenizer.encodeAll(in));
  }

  /** Predictions for already tokenized rows, in input order. */
  public List<Prediction> predictEncoded(List<Encoding> enc) {
    List<Prediction> out = new ArrayList<>(enc.size());
    for (float[] p : probabilities(enc)) {
      out.add(Prediction.fromProbabilities(p));
    }
    return out;
  }

  private float[][] batch(Batch b) {
    long[] shape = {b.rows(), b.seqLen()};
    Map<String, OnnxTensor> feed = new HashMap<>();
    try {
      feed.put("input_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(b.ids()), shape));
      feed.put("attention_mask", OnnxTensor.createTensor(env, LongBuffer.wrap(b.mask()), shape));
      if (inputs.contains("token_type_ids")) {
        feed.put("token_type_ids", OnnxTensor.createTensor(env, LongBuffer.wrap(b.typeIds()), shape));
      }
      try (OrtSession.Result r = session.run(feed, Set.of(output))) {
        FloatBuffer hidden = ((OnnxTensor) r.get(0)).getFloatBuffer();
        int h = config.hiddenSize();
        float[][] probs = new float[b.rows()][];
        float[] cls = new float[h];
        for (int row = 0; row < b.rows(); row++) {
          hidden.get(row * b.seqLen() * h, cls, 0, h); // position 0: [CLS]
          probs[row] = head(cls);
        }
        return probs;
      }
    } catch (OrtException e) {
      throw new IllegalStateException("ONNX Runtime inference failed: " + e.getMessage(), e);
    } finally {
      feed.values().forEach(OnnxTensor::close);
    }
  }

  /** tanh(W_p cls + b_p), then softmax(W_c pooled + b_c): BertClassifier's pooler and head, in fp32. */
  private float[] head(float[] cls) {
    int h = cls.length;
    float[] pooled = new float[h];
    for (int o = 0; o < h; o++) {
      float s = poolerB[o];
      for (int i = 0; i < h; i++) {
        s += poolerW[o * h + i] * cls[i];
      }
      pooled[o] = (float) Math.tanh(s);
    }
    int labels = headB.length;
    float[] logits = new float[labels];
    float max = Float.NEGATIVE_INFINITY;
    for (int o = 0; o < labels; o++) {
      float s = headB[o];
      for (int i = 0; i < h; i++) {
        s += headW[o * h + i] * pooled[i];
      }
      logits[o] = s;
      max = Math.max(max, s);
    }
    double sum = 0;
    for (int o = 0; o < labels; o++) {
      logits[o] = (float) Math.exp(logits[o] - max);
      sum += logits[o];
    }
    for (int o = 0; o < labels; o++) {
      logits[o] = (float) (logits[o] / sum);
    }
    return logits;
  }

  public Tokenizer tokenizer() {
    return tokenizer;
  }

  public Precision precision() {
    return precision;
  }

  public List<String> labels() {
    return config.labels();
  }

  @Override
  public void close() {
    closeQuietly(session, tokenizer);
  }

  private static void closeQuietly(OrtSession s, Tokenizer t) {
    try {
      if (s != null) {
        s.close();
      }
    } catch (OrtException e) {
      // nothing left to release that a retry could
    } finally {
      if (t != null) {
        t.close();
      }
    }
  }
}

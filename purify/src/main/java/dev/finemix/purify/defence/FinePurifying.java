package dev.finemix.purify.defence;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.text.Batch;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fine-purifying's reset stage (Zhang et al., "Diffusion Theory as a Scalpel", ACL Findings 2023), from the paper's
 * description: a dimension whose fine-tuning update {@code delta = w_FT - w_Pre} is large while the clean data
 * barely constrains it (small curvature of the clean loss) was most likely moved by something other than the clean
 * task, so it is the most suspicious. The curvature is the empirical Fisher diagonal of the clean cross-entropy at
 * w_FT: the sum over the clean labelled rows of each row's squared gradient (one row per backward pass, dropout
 * off). The indicator {@code delta^2 / (fisher + EPS)} ranks every dimension of every tensor that has a pre-trained
 * counterpart of the same shape (the head has none and stays fine-tuned, as in Fine-mixing); the top share is reset
 * to w_Pre. {@code Purifier} then fine-tunes on the labelled rows.
 */
final class FinePurifying {
  /**
   * Added to the curvature: a dimension the clean rows never touch (a word-embedding row of a token absent from them)
   * has Fisher 0 and ranks by its update alone, above every dimension with any curvature.
   */
  static final double EPS = 1e-12;

  /** What the reset did: the weights, the ranked and reset entry counts, and the reset count per tensor. */
  record Result(TensorMap weights, long entries, long reset, Map<String, Long> resetPerTensor) {
    double shareReset() {
      return entries == 0 ? 0 : reset / (double) entries;
    }
  }

  private FinePurifying() {}

  /** The reset stage on {@code weights} (w_FT, or E-PUR's output), the Fisher measured on {@code rows} at them. */
  static Result run(BertConfig config, TensorMap weights, TensorMap pretrained, Tokenizer tok, List<Example> rows,
      double share, Device device) {
    TensorMap f;
    try (BertClassifier m = BertClassifier.create(config, weights, device)) {
      f = fisher(m, tok.encodeAll(Purifier.inputs(rows)), rows.stream().mapToInt(Example::label).toArray());
    }
    return reset(weights, pretrained, f, share);
  }

  /**
   * The empirical Fisher diagonal of the clean loss at the model's weights: for each parameter name, the sum over
   * {@code rows} of the squared gradient of that row's cross-entropy. Leaves the weights and the grad mode as found.
   */
  static TensorMap fisher(BertClassifier model, List<Encoding> rows, int[] labels) {
    if (rows.size() != labels.length || rows.isEmpty()) {
      throw new IllegalArgumentException("fisher needs one label per row and at least one row, got " + rows.size()
          + " rows and " + labels.length + " labels");
    }
    int k = model.config().numLabels();
    Map<String, Parameter> params = model.parameters();
    Engine engine = Engine.getEngine("PyTorch");
    boolean gradMode = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    try (NDManager acc = NDManager.newBaseManager(model.device(), "PyTorch")) {
      Map<String, NDArray> sums = new LinkedHashMap<>();
      for (Map.Entry<String, Parameter> e : params.entrySet()) {
        NDArray w = e.getValue().getArray();
        w.setRequiresGradient(true);
        sums.put(e.getKey(), acc.zeros(w.getShape()));
      }
      for (int i = 0; i < rows.size(); i++) {
        if (labels[i] < 0 || labels[i] >= k) {
          throw new IllegalArgumentException("row " + i + " has label " + labels[i] + "; the model has " + k);
        }
        try (NDManager m = acc.newSubManager(); NDScope scope = new NDScope()) {
          float[] onehot = new float[k];
          onehot[labels[i]] = 1f;
          try (GradientCollector gc = engine.newGradientCollector()) {
            NDArray logits = model.forward(m, Batch.of(List.of(rows.get(i))), false);
            gc.backward(logits.logSoftmax(-1).mul(m.create(onehot, new Shape(1, k))).sum().neg());
          }
          for (Map.Entry<String, Parameter> e : params.entrySet()) {
            NDArray w = e.getValue().getArray();
            sums.get(e.getKey()).addi(w.getGradient().square());
            JniUtils.zeroGrad((PtNDArray) w);
          }
        }
      }
      TensorMap out = new TensorMap();
      for (Map.Entry<String, NDArray> e : sums.entrySet()) {
        out.put(e.getKey(), new Tensor(e.getValue().getShape().getShape(), e.getValue().toFloatArray()));
      }
      return out;
    } finally {
      for (Parameter p : params.values()) p.getArray().setRequiresGradient(false);
      JniUtils.setGradMode(gradMode);
    }
  }

  /**
   * Resets exactly {@code round(share * entries)} of the ranked entries to w_Pre: those with the largest indicator
   * (float32 {@code delta^2 / (fisher + EPS)}); ties at the threshold go to the earlier tensor and lower flat index.
   * Tensors without a same-shaped pre-trained counterpart or a Fisher entry are shared unchanged.
   */
  static Result reset(TensorMap fineTuned, TensorMap pretrained, TensorMap fisher, double share) {
    if (!(share >= 0 && share <= 1)) throw new IllegalArgumentException("share must be in [0, 1], got " + share);
    Map<String, float[]> scores = new LinkedHashMap<>();
    long entries = 0;
    for (var e : fineTuned.entries()) {
      Tensor pre = pretrained.get(e.getKey());
      Tensor f = fisher.get(e.getKey());
      if (pre == null || f == null || !Arrays.equals(pre.shape(), e.getValue().shape())) continue;
      float[] ft = e.getValue().data();
      float[] p = pre.data();
      float[] c = f.data();
      float[] s = new float[ft.length];
      for (int i = 0; i < s.length; i++) {
        double d = ft[i] - p[i];
        s[i] = (float) (d * d / (c[i] + EPS));
      }
      scores.put(e.getKey(), s);
      entries += s.length;
    }
    long target = Math.round(share * entries);
    float threshold = threshold(scores, entries, target);
    long above = 0;
    for (float[] s : scores.values()) for (float x : s) if (x > threshold) above++;
    long tiesLeft = target - above; // entries equal to the threshold that are reset, in order
    TensorMap out = new TensorMap();
    Map<String, Long> perTensor = new LinkedHashMap<>();
    long reset = 0;
    for (var e : fineTuned.entries()) {
      float[] s = scores.get(e.getKey());
      if (s == null || target == 0) {
        out.put(e.getKey(), e.getValue());
        continue;
      }
      float[] data = e.getValue().data().clone();
      float[] pre = pretrained.require(e.getKey()).data();
      long n = 0;
      for (int i = 0; i < s.length; i++) {
        boolean r = s[i] > threshold || s[i] == threshold && tiesLeft-- > 0;
        if (r) {
          data[i] = pre[i];
          n++;
        }
      }
      if (n > 0) perTensor.put(e.getKey(), n);
      reset += n;
      out.put(e.getKey(), new Tensor(e.getValue().shape(), data));
    }
    return new Result(out, entries, reset, perTensor);
  }

  /** The {@code n} tensors with the most resets, as {@code name=count}, for the report. */
  static String largest(Map<String, Long> perTensor, int n) {
    return perTensor.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed()).limit(n)
        .map(e -> e.getKey() + "=" + e.getValue()).collect(java.util.stream.Collectors.joining(", "));
  }

  /** The {@code target}-th largest score (+Infinity when none is to be reset). */
  private static float threshold(Map<String, float[]> scores, long entries, long target) {
    if (target == 0) return Float.POSITIVE_INFINITY;
    if (entries > Integer.MAX_VALUE - 8) {
      throw new IllegalArgumentException("fine-purifying ranks at most 2^31 entries, the model has " + entries);
    }
    float[] all = new float[(int) entries];
    int at = 0;
    for (float[] s : scores.values()) {
      System.arraycopy(s, 0, all, at, s.length);
      at += s.length;
    }
    Arrays.sort(all);
    return all[(int) (entries - target)];
  }
}

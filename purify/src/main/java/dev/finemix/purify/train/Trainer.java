package dev.finemix.purify.train;

import static dev.finemix.purify.weights.BertTensors.WORD_EMBEDDINGS;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.Parameter;
import ai.djl.pytorch.engine.PtNDArray;
import ai.djl.pytorch.jni.JniUtils;
import ai.djl.training.GradientCollector;
import dev.finemix.purify.model.Accuracy;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.text.Batch;
import dev.finemix.purify.text.Batches;
import dev.finemix.purify.text.Encoding;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.LongSupplier;
import java.util.function.Predicate;

/**
 * Fine-tunes a {@link BertClassifier} in place with hand-written steps: dynamic padding with batches of
 * similar length (shuffled each epoch), dropout on, AdamW with bias correction and decoupled weight
 * decay (none on biases and LayerNorm), linear warm-up then linear decay, global gradient-norm clipping.
 * Seeded: the engine's generator (dropout) and a {@link Random} for the batch order come from
 * {@link TrainSettings#seed()}.
 *
 * <p>Runs on the calling thread. The PyTorch engine allows one gradient collector at a time, so only one
 * training runs per JVM at any moment.
 */
public final class Trainer {

  private static final double BETA1 = 0.9;
  private static final double BETA2 = 0.999;
  private static final double EPS = 1e-8;
  private static final boolean PROFILE = Boolean.getBoolean("finemix.train.profile");

  private final TrainSettings settings;
  private final ProgressListener listener;
  private Predicate<String> trainable = name -> true;
  private final Map<String, int[]> rowMasks = new LinkedHashMap<>();
  private List<TrainRow> evalRows = List.of();
  private String stage = "train";
  private boolean denseEmbeddings;
  private LongSupplier ticker = System::nanoTime;
  private double featureWeight;
  private boolean balanceClasses = true;
  private float[] classWeights;

  /** Below this ratio of the rarest to the most frequent hard label the trainer weights the classes. */
  public static final double IMBALANCE = 0.5;
  private dev.finemix.purify.weights.TensorMap mixReference;
  private StepMasks mixMasks;
  private boolean layerwise;
  private LossTerm lossTerm;

  public Trainer(TrainSettings s, ProgressListener l) {
    if (s == null) {
      throw new IllegalArgumentException("settings must not be null");
    }
    this.settings = s;
    this.listener = l == null ? ProgressListener.NONE : l;
  }

  /** Trains only the parameters whose Hugging Face name passes; the rest stay frozen (no gradient). */
  public Trainer onlyParameters(Predicate<String> trainable) {
    if (trainable == null) {
      throw new IllegalArgumentException("trainable must not be null");
    }
    this.trainable = trainable;
    return this;
  }

  /**
   * Only the given rows (first dimension) of {@code param} change: gradients of other rows are
   * masked out before clipping and the whole update (Adam and weight decay) is masked, so other rows
   * keep their exact values. Example: EP poisoning trains one word-embedding row.
   */
  public Trainer gradientMask(String param, int[] rows) {
    if (param == null || rows == null || rows.length == 0) {
      throw new IllegalArgumentException("gradientMask needs a parameter name and at least one row");
    }
    rowMasks.put(param, rows.clone());
    return this;
  }

  /** Rows (with hard labels) whose accuracy is measured after each epoch and reported. */
  public Trainer evaluateEachEpoch(List<TrainRow> rows) {
    this.evalRows = rows == null ? List.of() : List.copyOf(rows);
    for (TrainRow r : evalRows) {
      if (r.label() < 0) {
        throw new IllegalArgumentException("evaluation rows need hard labels");
      }
    }
    return this;
  }

  /** The stage name shown in progress events (default "train"). */
  public Trainer stage(String name) {
    this.stage = name == null ? "train" : name;
    return this;
  }

  /**
   * By default the word-embedding table is updated lazily: each step only the rows of the batch's
   * tokens get gradients, Adam moments and weight decay (as in TensorFlow's LazyAdam), which saves
   * about half of the optimizer's memory traffic. {@code true} restores dense AdamW on the full table.
   */
  public Trainer denseEmbeddingUpdates(boolean dense) {
    this.denseEmbeddings = dense;
    return this;
  }

  /**
   * Weight of the feature-distillation term: for rows with a {@link TrainRow#featureTarget}, the mean over rows of
   * the mean squared difference between the model's pooled features (tanh pooler output) and the target is added
   * to the loss, times {@code w}. 0 (default) ignores feature targets.
   */
  public Trainer featureWeight(double w) {
    if (!(w >= 0) || Double.isInfinite(w)) {
      throw new IllegalArgumentException("feature weight must be >= 0, got " + w);
    }
    this.featureWeight = w;
    return this;
  }

  /**
   * Class-balanced loss (default on): when the rarest hard label has fewer than {@value #IMBALANCE} times the rows
   * of the most frequent one, each row's cross-entropy is weighted by {@code N / (K * n_c)} (K labels present,
   * n_c rows of its label; sklearn's "balanced"), so the minority class carries as much loss as the majority.
   * Without it, 2 epochs on a 90/10 split can end at the majority-class predictor. Balanced data (SST-2's 55/45,
   * BadNet at 10%) trains exactly as before. {@code false} turns it off.
   */
  public Trainer balanceClasses(boolean on) {
    this.balanceClasses = on;
    return this;
  }

  /**
   * The per-label loss weights for {@code rows} ({@link #balanceClasses}), or null when the hard labels are balanced
   * within {@value #IMBALANCE} (or there are fewer than two of them).
   */
  static float[] classWeights(List<TrainRow> rows, int k) {
    int[] n = new int[k];
    int total = 0;
    for (TrainRow r : rows) {
      if (r.label() >= 0) {
        n[r.label()]++;
        total++;
      }
    }
    int present = 0;
    int min = Integer.MAX_VALUE;
    int max = 0;
    for (int c : n) {
      if (c > 0) {
        present++;
        min = Math.min(min, c);
        max = Math.max(max, c);
      }
    }
    if (present < 2 || min >= IMBALANCE * max) {
      return null;
    }
    float[] w = new float[k];
    for (int c = 0; c < k; c++) {
      w[c] = n[c] == 0 ? 0f : (float) total / (present * n[c]);
    }
    return w;
  }

  /**
   * Each step's forward pass sees {@code mask * w + (1 - mask) * reference} for every parameter that has a
   * {@code reference} tensor and a mask that step (a mixing-aware attack: the loss is that of the mixed model). The
   * gradient reaching the stored weight is the chain rule's, {@code mask * dL/dw_mixed}, so reset entries get none
   * that step; the stored weights stay the unmixed ones (restored before the update).
   */
  public Trainer mixEachStep(dev.finemix.purify.weights.TensorMap reference, StepMasks masks) {
    if (reference == null || masks == null) {
      throw new IllegalArgumentException("mixEachStep needs a reference and masks");
    }
    this.mixReference = reference;
    this.mixMasks = masks;
    return this;
  }

  /**
   * Layer-wise loss (LWP, Li et al. 2021): the hard/soft loss is taken on every encoder layer's [CLS] state through
   * the shared pooler, dropout and head ({@link BertClassifier#clsLogits}) and summed over the layers, so the earlier
   * layers learn the task (and a backdoor) on their own. The pooler is part of the shared classifier: the head was
   * only ever trained on pooled features. Feature distillation ({@link #featureWeight}) is not combined with it.
   */
  public Trainer layerwiseLoss(boolean on) {
    this.layerwise = on;
    return this;
  }

  /**
   * An extra term added to every step's loss (see {@link LossTerm}). It may read any parameter of the model, so the
   * word embeddings are updated densely (as {@link #denseEmbeddingUpdates}{@code (true)}) to carry its gradient.
   */
  public Trainer addLoss(LossTerm term) {
    if (term == null) {
      throw new IllegalArgumentException("addLoss needs a term");
    }
    this.lossTerm = term;
    return this;
  }

  /** The nanosecond clock for timing and ETA (tests pass a fake). */
  public Trainer ticker(LongSupplier ticker) {
    this.ticker = ticker == null ? System::nanoTime : ticker;
    return this;
  }

  private static final class Slot {
    final String name;
    final NDArray weight;
    final NDArray m;
    final NDArray v;
    final NDArray rowMask;
    final boolean head;
    final boolean decay;
    final boolean lazy;

    Slot(String name, NDArray weight, NDArray m, NDArray v, NDArray rowMask, boolean lazy) {
      this.name = name;
      this.lazy = lazy;
      this.weight = weight;
      this.m = m;
      this.v = v;
      this.rowMask = rowMask;
      this.head = isHead(name);
      this.decay = !(name.endsWith("bias") || name.contains("LayerNorm"));
    }
  }

  /**
   * Parameters trained at {@link TrainSettings#headLr()}: the classifier and the pooler. The pooler belongs to
   * the head because sentence-embedding checkpoints such as all-MiniLM-L6-v2 ship it untrained (bias 0, weight
   * std 0.009): at the encoder's rate it barely moves in a short fine-tuning, and CACC drops by about 2 points.
   */
  public static boolean isHead(String name) {
    return name.startsWith("classifier.") || name.startsWith("bert.pooler.");
  }

  /** Trains {@code model} in place on {@code rows}. */
  public TrainSummary train(BertClassifier model, List<TrainRow> rows) {
    if (model == null || rows == null || rows.isEmpty()) {
      throw new IllegalArgumentException("a model and at least one training row are required");
    }
    int k = model.config().numLabels();
    for (int i = 0; i < rows.size(); i++) {
      TrainRow r = rows.get(i);
      if (r.label() >= k) {
        throw new IllegalArgumentException("row " + i + " has label " + r.label() + " but the model has " + k
            + " labels");
      }
      if (r.softTarget() != null && r.softTarget().length != k) {
        throw new IllegalArgumentException("row " + i + " has a soft target of length " + r.softTarget().length
            + " but the model has " + k + " labels");
      }
    }
    Map<String, Parameter> params = model.parameters();
    for (String name : rowMasks.keySet()) {
      Parameter p = params.get(name);
      if (p == null) {
        throw new IllegalArgumentException("gradientMask names unknown parameter '" + name + "'");
      }
      if (!trainable.test(name)) {
        throw new IllegalArgumentException("gradientMask names frozen parameter '" + name + "'");
      }
      long n = p.getArray().getShape().get(0);
      for (int row : rowMasks.get(name)) {
        if (row < 0 || row >= n) {
          throw new IllegalArgumentException("gradientMask row " + row + " outside [0, " + n + ") of '" + name + "'");
        }
      }
    }
    classWeights = balanceClasses ? classWeights(rows, k) : null;
    if (classWeights != null) {
      listener.onProgress(Progress.message(stage, "imbalanced labels: class-weighted loss " + Arrays.toString(classWeights)));
    }
    Engine engine = Engine.getEngine("PyTorch");
    engine.setRandomSeed(Long.hashCode(settings.seed()));
    Random rnd = new Random(settings.seed());
    Device device = model.device();

    List<Encoding> enc = new ArrayList<>(rows.size());
    for (TrainRow r : rows) {
      enc.add(r.enc());
    }
    List<List<int[]>> epochs = new ArrayList<>();
    int totalSteps = 0;
    for (int e = 0; e < settings.epochs(); e++) {
      List<int[]> b = Batches.byLength(enc, settings.batchSize(), true, rnd);
      epochs.add(b);
      totalSteps += b.size();
    }
    int warmup = (int) Math.ceil(settings.warmupRatio() * totalSteps);

    boolean gradMode = JniUtils.isGradMode();
    JniUtils.setGradMode(false);
    List<Slot> slots = new ArrayList<>();
    List<Double> devAcc = new ArrayList<>();
    try (NDManager opt = NDManager.newBaseManager(device, "PyTorch")) {
      for (Map.Entry<String, Parameter> e : params.entrySet()) {
        NDArray w = e.getValue().getArray();
        boolean on = trainable.test(e.getKey());
        boolean lazy = on && !denseEmbeddings && lossTerm == null && e.getKey().equals(WORD_EMBEDDINGS);
        w.setRequiresGradient(on && !lazy);
        if (on) {
          slots.add(new Slot(e.getKey(), w, opt.zeros(w.getShape()), opt.zeros(w.getShape()),
              rowMask(opt, w.getShape(), rowMasks.get(e.getKey())), lazy));
        }
      }
      if (slots.isEmpty()) {
        throw new IllegalArgumentException("onlyParameters selects no parameter");
      }
      Map<String, NDArray> reference = mixReference(opt, params);
      long start = ticker.getAsLong();
      int step = 0;
      long rowsDone = 0;
      double epochLossSum = 0;
      int epochSteps = 0;
      for (int e = 0; e < epochs.size(); e++) {
        epochLossSum = 0;
        epochSteps = 0;
        for (int[] idx : epochs.get(e)) {
          double lr = schedule(step, warmup, totalSteps);
          float loss = step(engine, model, opt, slots, rows, idx, lr, step + 1, reference);
          step++;
          rowsDone += idx.length;
          epochLossSum += loss;
          epochSteps++;
          double secs = (ticker.getAsLong() - start) / 1e9;
          double rps = secs > 0 ? rowsDone / secs : 0;
          long eta = (long) (secs * 1000 / step * (totalSteps - step));
          listener.onProgress(new Progress(stage, step, totalSteps, epochLossSum / epochSteps, rps, eta,
              String.format(Locale.ROOT, "epoch %d/%d", e + 1, epochs.size())));
        }
        if (!evalRows.isEmpty()) {
          double acc = accuracy(model, evalRows);
          devAcc.add(acc);
          listener.onProgress(Progress.message(stage, String.format(Locale.ROOT,
              "epoch %d/%d: mean loss %.4f, dev accuracy %.4f (%d rows)", e + 1, epochs.size(),
              epochLossSum / Math.max(1, epochSteps), acc, evalRows.size())));
        }
      }
      double secs = (ticker.getAsLong() - start) / 1e9;
      return new TrainSummary(step, epochLossSum / Math.max(1, epochSteps), secs,
          secs > 0 ? rowsDone / secs : 0, devAcc);
    } finally {
      for (Parameter p : params.values()) {
        p.getArray().setRequiresGradient(false);
      }
      JniUtils.setGradMode(gradMode);
    }
  }

  /** Learning-rate factor for 0-based {@code step}: linear warm-up to 1, then linear decay to 0. */
  static double schedule(int step, int warmup, int total) {
    if (step < warmup) {
      return (step + 1) / (double) warmup;
    }
    return Math.max(0.0, (total - step) / (double) Math.max(1, total - warmup));
  }

  private static NDArray rowMask(NDManager opt, Shape shape, int[] rows) {
    if (rows == null) {
      return null;
    }
    int n = (int) shape.get(0);
    float[] mask = new float[n];
    for (int r : rows) {
      mask[r] = 1f;
    }
    long[] dims = new long[shape.dimension()];
    Arrays.fill(dims, 1);
    dims[0] = n;
    return opt.create(mask, new Shape(dims));
  }

  /** The mixing reference on the model's device, by parameter name (empty without {@link #mixEachStep}). */
  private Map<String, NDArray> mixReference(NDManager opt, Map<String, Parameter> params) {
    Map<String, NDArray> out = new LinkedHashMap<>();
    if (mixReference == null) {
      return out;
    }
    for (Map.Entry<String, Parameter> e : params.entrySet()) {
      dev.finemix.purify.weights.Tensor r = mixReference.get(e.getKey());
      Shape shape = e.getValue().getArray().getShape();
      if (r == null) {
        continue;
      }
      if (!Arrays.equals(r.shape(), shape.getShape())) {
        throw new IllegalArgumentException("mix reference '" + e.getKey() + "' has shape " + Arrays.toString(r.shape())
            + ", the model " + shape);
      }
      out.put(e.getKey(), opt.create(r.data(), shape));
    }
    return out;
  }

  /**
   * Mixes this step's weights in place ({@link #mixEachStep}); returns the masks used, by name, and fills
   * {@code saved} with the unmixed weights to restore.
   */
  private Map<String, NDArray> mixIn(NDManager m, BertClassifier model, Map<String, NDArray> reference, int step,
      Map<NDArray, NDArray> saved) {
    Map<String, NDArray> masks = new LinkedHashMap<>();
    for (Map.Entry<String, NDArray> e : reference.entrySet()) {
      NDArray w = model.parameters().get(e.getKey()).getArray();
      float[] mk = mixMasks.mask(step, e.getKey(), Math.toIntExact(w.size()));
      if (mk == null) {
        continue;
      }
      NDArray mask = m.create(mk, w.getShape());
      // the copy lives in the step's manager: duplicate() attaches it to the model's, which kept one copy of every
      // mixed tensor per step alive (15.7 GB after ~60 steps on MiniLM, killed by the OOM killer)
      NDArray orig = w.duplicate();
      orig.attach(m);
      saved.put(w, orig);
      w.subi(e.getValue()).muli(mask).addi(e.getValue());
      masks.put(e.getKey(), mask);
    }
    return masks;
  }

  private float step(Engine engine, BertClassifier model, NDManager opt, List<Slot> slots, List<TrainRow> rows,
      int[] idx, double lrFactor, int t, Map<String, NDArray> reference) {
    List<Encoding> enc = new ArrayList<>(idx.length);
    for (int i : idx) {
      enc.add(rows.get(i).enc());
    }
    Batch batch = Batch.of(enc);
    Slot lazy = null;
    for (Slot s : slots) {
      if (s.lazy) {
        lazy = s;
      }
    }
    try (NDManager m = opt.newSubManager()) {
      Map<NDArray, NDArray> saved = new java.util.IdentityHashMap<>();
      Map<String, NDArray> stepMasks = reference.isEmpty() ? Map.of() : mixIn(m, model, reference, t - 1, saved);
      NDArray table = null;
      NDArray rowIds = null;
      if (lazy != null) {
        // the batch's distinct tokens become a small leaf table; ids are remapped into it
        long[] ids = batch.ids();
        long[] uniq = Arrays.stream(ids).distinct().sorted().toArray();
        long[] local = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
          local[i] = Arrays.binarySearch(uniq, ids[i]);
        }
        batch = new Batch(local, batch.typeIds(), batch.mask(), batch.rows(), batch.seqLen());
        rowIds = m.create(uniq);
        table = Embedding.embedding(rowIds, lazy.weight, SparseFormat.DENSE).singletonOrThrow();
        table.setRequiresGradient(true);
      }
      NDArray loss;
      long t0 = System.nanoTime();
      long t1;
      try (GradientCollector gc = engine.newGradientCollector()) {
        boolean features = featureWeight > 0 && hasFeatures(rows, idx);
        NDArray logits;
        if (layerwise) {
          loss = null;
          for (NDArray cls : model.layerCls(m, batch, true, table)) {
            NDArray l = loss(m, model.clsLogits(cls, true), rows, idx, model.config().numLabels());
            loss = loss == null ? l : loss.add(l);
          }
        } else if (features) {
          var out = model.forwardPooled(m, batch, true, table);
          logits = out.get(0);
          loss = loss(m, logits, rows, idx, model.config().numLabels())
              .add(featureLoss(m, out.get(1), rows, idx, model.config().hiddenSize()));
        } else {
          logits = model.forward(m, batch, true, table);
          loss = loss(m, logits, rows, idx, model.config().numLabels());
        }
        NDArray extra = lossTerm == null ? null : lossTerm.term(m, model, t - 1);
        if (extra != null) {
          loss = loss.add(extra);
        }
        t1 = System.nanoTime();
        gc.backward(loss);
      }
      float value = loss.getFloat();
      // the stored weights are the unmixed ones: restored before the update reads them
      saved.forEach((w, orig) -> w.muli(0).addi(orig));
      long t2 = System.nanoTime();
      if (!Float.isFinite(value)) {
        throw new IllegalStateException("training diverged: loss is " + value + " at step " + t);
      }
      update(m, slots, lrFactor, t, table, rowIds, stepMasks);
      long t3 = System.nanoTime();
      if (PROFILE) {
        System.err.printf(Locale.ROOT, "%nstep %d rows %d seq %d: forward %.0f ms, backward %.0f ms, update %.0f ms%n",
            t, batch.rows(), batch.seqLen(), (t1 - t0) / 1e6, (t2 - t1) / 1e6, (t3 - t2) / 1e6);
      }
      return value;
    }
  }

  private static boolean hasFeatures(List<TrainRow> rows, int[] idx) {
    for (int i : idx) {
      if (rows.get(i).featureTarget() != null) {
        return true;
      }
    }
    return false;
  }

  /** featureWeight / n * sum over rows with a target of mean_d (pooled - target)^2. */
  private NDArray featureLoss(NDManager m, NDArray pooled, List<TrainRow> rows, int[] idx, int hidden) {
    int n = idx.length;
    float[] target = new float[n * hidden];
    float[] mask = new float[n];
    for (int r = 0; r < n; r++) {
      float[] f = rows.get(idx[r]).featureTarget();
      if (f != null) {
        if (f.length != hidden) {
          throw new IllegalArgumentException("feature target has " + f.length + " values, the model " + hidden);
        }
        System.arraycopy(f, 0, target, r * hidden, hidden);
        mask[r] = 1f;
      }
    }
    NDArray diff = pooled.sub(m.create(target, new Shape(n, hidden)));
    NDArray perRow = diff.mul(diff).mean(new int[] {1});
    return perRow.mul(m.create(mask, new Shape(n))).sum().mul(m.create((float) (featureWeight / n)));
  }

  private NDArray loss(NDManager m, NDArray logits, List<TrainRow> rows, int[] idx, int k) {
    int n = idx.length;
    float[] hard = new float[n * k];
    float[] soft = new float[n * k];
    boolean anyHard = false;
    boolean anySoft = false;
    double t = settings.softTemperature();
    double t2 = t * t;
    double constant = 0;
    for (int r = 0; r < n; r++) {
      TrainRow row = rows.get(idx[r]);
      if (row.label() >= 0) {
        hard[r * k + row.label()] = classWeights == null ? 1f : classWeights[row.label()];
        anyHard = true;
      }
      if (row.softTarget() != null) {
        anySoft = true;
        for (int j = 0; j < k; j++) {
          float p = row.softTarget()[j];
          soft[r * k + j] = (float) (p * t2);
          if (p > 0) {
            constant += t2 * p * Math.log(p);
          }
        }
      }
    }
    Shape shape = new Shape(n, k);
    NDArray total = null;
    if (anyHard) {
      // cross-entropy: -sum(onehot * log softmax(z))
      total = logits.logSoftmax(-1).mul(m.create(hard, shape)).sum().neg();
    }
    if (anySoft) {
      // T^2 * KL(p || softmax(z / T)) = T^2 * sum p log p - sum (T^2 p) * log softmax(z / T)
      NDArray kl = logits.mul(m.create((float) (1 / t))).logSoftmax(-1).mul(m.create(soft, shape)).sum().neg()
          .add(m.create((float) constant));
      total = total == null ? kl : total.add(kl);
    }
    return total.mul(m.create(1f / n));
  }

  private void update(NDManager m, List<Slot> slots, double lrFactor, int t, NDArray table, NDArray rowIds,
      Map<String, NDArray> mixMasks) {
    double bc1 = 1 - Math.pow(BETA1, t);
    double bc2 = 1 - Math.pow(BETA2, t);
    double sqrtBc2 = Math.sqrt(bc2);
    NDArray b1 = m.create((float) BETA1);
    NDArray b2 = m.create((float) BETA2);
    NDArray eps = m.create((float) (EPS * sqrtBc2));
    double bodyLr = settings.lr() * lrFactor;
    double headLr = settings.headLr() * lrFactor;
    NDArray bodyStep = m.create((float) (bodyLr * sqrtBc2 / bc1));
    NDArray headStep = m.create((float) (headLr * sqrtBc2 / bc1));
    NDArray bodyDecay = m.create((float) (bodyLr * settings.weightDecay()));
    NDArray headDecay = m.create((float) (headLr * settings.weightDecay()));
    try (NDScope scope = new NDScope()) {
      List<NDArray> grads = new ArrayList<>(slots.size());
      List<NDArray> masks = new ArrayList<>(slots.size());
      NDList norms = new NDList(slots.size());
      for (Slot s : slots) {
        NDArray g = s.lazy ? table.getGradient() : s.weight.getGradient();
        NDArray mask = s.rowMask == null ? null
            : s.lazy ? Embedding.embedding(rowIds, s.rowMask, SparseFormat.DENSE).singletonOrThrow() : s.rowMask;
        if (mask != null) {
          g = g.mul(mask);
        }
        NDArray mix = mixMasks.get(s.name);
        if (mix != null) {
          // chain rule through w_mixed = mask * w + (1 - mask) * reference
          g = g.mul(s.lazy ? Embedding.embedding(rowIds, mix, SparseFormat.DENSE).singletonOrThrow() : mix);
        }
        grads.add(g);
        masks.add(mask);
        if (settings.clipNorm() > 0) {
          norms.add(g.norm());
        }
      }
      double clip = 1.0;
      if (settings.clipNorm() > 0) {
        float norm = NDArrays.stack(norms).norm().getFloat();
        if (!Float.isFinite(norm)) {
          throw new IllegalStateException("training diverged: gradient norm is " + norm + " at step " + t);
        }
        if (norm > settings.clipNorm()) {
          clip = settings.clipNorm() / (norm + 1e-6);
        }
      }
      // the clip factor folds into the moment coefficients: (1 - b1) * c * g and (1 - b2) * c^2 * g^2
      NDArray omb1 = m.create((float) ((1 - BETA1) * clip));
      NDArray omb2 = m.create((float) ((1 - BETA2) * clip * clip));
      for (int i = 0; i < slots.size(); i++) {
        Slot s = slots.get(i);
        NDArray g = grads.get(i);
        NDArray mask = masks.get(i);
        NDArray w = s.weight;
        NDArray mom = s.m;
        NDArray var = s.v;
        if (s.lazy) {
          w = Embedding.embedding(rowIds, s.weight, SparseFormat.DENSE).singletonOrThrow();
          mom = Embedding.embedding(rowIds, s.m, SparseFormat.DENSE).singletonOrThrow();
          var = Embedding.embedding(rowIds, s.v, SparseFormat.DENSE).singletonOrThrow();
        }
        mom.muli(b1).addi(g.mul(omb1));
        var.muli(b2).addi(g.square().muli(omb2));
        NDArray upd = mom.div(var.sqrt().addi(eps)).muli(s.head ? headStep : bodyStep);
        if (s.decay && settings.weightDecay() > 0) {
          upd.addi(w.mul(s.head ? headDecay : bodyDecay));
        }
        if (mask != null) {
          upd.muli(mask);
        }
        w.subi(upd);
        if (s.lazy) {
          NDIndex rowsIndex = new NDIndex("{}", rowIds);
          s.weight.set(rowsIndex, w);
          s.m.set(rowsIndex, mom);
          s.v.set(rowsIndex, var);
        } else {
          JniUtils.zeroGrad((PtNDArray) s.weight);
        }
      }
    }
  }

  /** Accuracy of {@code model} on labelled rows, batched by length (inference mode). */
  public static double accuracy(BertClassifier model, List<TrainRow> rows) {
    if (rows.isEmpty()) {
      throw new IllegalArgumentException("no rows to evaluate");
    }
    return Accuracy.of(model, rows.stream().map(TrainRow::enc).toList(),
        rows.stream().mapToInt(TrainRow::label).toArray());
  }
}

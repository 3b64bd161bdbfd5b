package dev.finemix.purify.screen;

import dev.finemix.purify.defence.Epur;
import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.model.BertClassifier.Inference;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Request-time screening of a served classifier: a per-request suspicion score, calibrated on the model's
 * clean subset at a target false-flag rate, computed alongside the prediction.
 *
 * <p>Signals (see {@link Signal}): TOKENS looks up the E-PUR score of each of the input's tokens (how far
 * fine-tuning moved its embedding row from the pre-trained one, discounted by word frequency; {@link Epur}
 * computes the scores); FEATURES is the Mahalanobis distance of the last layer's [CLS] vector, taken from the
 * prediction's own forward pass, to the clean rows' class means; PERTURBATION deletes the input's most
 * suspicious tokens and measures how much the predicted class's probability drops (one more forward pass);
 * COMBINED is the larger z-score of TOKENS and FEATURES. Every signal is calibrated; the one named in the
 * settings decides. Nothing keys on a trigger word or a dataset.
 *
 * <p>The screener borrows the classifier (the caller closes it) and is thread-safe.
 */
public final class Screener {
  private static final int FOLDS = 4;

  private final Classifier classifier;
  private final ScreenSettings settings;
  private final double[] tokenScores;
  private final String[] vocab;
  private final Mahalanobis features;
  private final Map<Signal, Calibration> calibrations;

  private Screener(Classifier classifier, ScreenSettings settings, double[] tokenScores, String[] vocab,
      Mahalanobis features, Map<Signal, Calibration> calibrations) {
    this.classifier = classifier;
    this.settings = settings;
    this.tokenScores = tokenScores;
    this.vocab = vocab;
    this.features = features;
    this.calibrations = calibrations;
  }

  /**
   * Calibrates every signal on {@code settings.rows()} rows of {@code clean} (a seeded sample when it has
   * more) at {@code settings.falseFlagRate()}.
   *
   * @param classifier the served model (borrowed, not closed)
   * @param pretrained the pre-trained weights the model was fine-tuned from (its word embeddings are read)
   * @param frequencies word counts for the E-PUR discount ({@link WordFrequencies#none()} ranks by shift alone)
   * @param clean the model's clean subset, with gold labels
   */
  public static Screener calibrate(Classifier classifier, TensorMap pretrained, WordFrequencies frequencies,
      Dataset clean, ScreenSettings settings) {
    if (classifier == null) {
      throw new IllegalArgumentException("classifier, pretrained, frequencies, clean and settings are required");
    }
    return calibrate(classifier, classifier.checkpoint().weights(), pretrained, frequencies, clean, settings);
  }

  /**
   * Calibrates like {@link #calibrate(Classifier, TensorMap, WordFrequencies, Dataset, ScreenSettings)}, but takes
   * the TOKENS scores from {@code fineTuned}'s word embeddings instead of the served classifier's. A server that
   * serves a purified model passes the suspect checkpoint as registered here: E-PUR reset the suspect's most shifted
   * rows (the trigger's among them) to the pre-trained ones, so the served weights no longer show the shift that
   * marks a trigger, while predictions and features still come from the served classifier.
   *
   * @param fineTuned weights holding the fine-tuned word embeddings (same vocabulary and shape as the classifier's)
   */
  public static Screener calibrate(Classifier classifier, TensorMap fineTuned, TensorMap pretrained,
      WordFrequencies frequencies, Dataset clean, ScreenSettings settings) {
    if (classifier == null || fineTuned == null || pretrained == null || frequencies == null || clean == null
        || settings == null) {
      throw new IllegalArgumentException("classifier, fineTuned, pretrained, frequencies, clean and settings are"
          + " required");
    }
    if (clean.size() < 8) {
      throw new IllegalArgumentException("clean subset " + clean.name() + " has " + clean.size()
          + " rows; screening needs at least 8");
    }
    Dataset rows = clean.size() > settings.rows() ? clean.sample(settings.rows(), settings.seed()) : clean;
    int labels = classifier.labels().size();
    for (Example e : rows.rows()) {
      if (e.label() < 0 || e.label() >= labels) {
        throw new IllegalArgumentException("clean subset " + clean.name() + ": label " + e.label()
            + " outside the model's " + labels + " labels");
      }
    }
    Tensor ft = fineTuned.require(BertTensors.WORD_EMBEDDINGS);
    Tensor served = classifier.checkpoint().weights().require(BertTensors.WORD_EMBEDDINGS);
    if (!Arrays.equals(ft.shape(), served.shape())) {
      throw new IllegalArgumentException("fine-tuned word embeddings " + Arrays.toString(ft.shape())
          + " differ in shape from the served model's " + Arrays.toString(served.shape()));
    }
    Tensor pre = pretrained.get(BertTensors.WORD_EMBEDDINGS);
    if (pre == null) {
      pre = pretrained.require(BertTensors.WORD_EMBEDDINGS.substring(BertTensors.ENCODER_PREFIX.length()));
    }
    if (!Arrays.equals(ft.shape(), pre.shape())) {
      throw new IllegalArgumentException("word embeddings differ in shape: model " + Arrays.toString(ft.shape())
          + " vs pre-trained " + Arrays.toString(pre.shape()) + "; is it the right base model?");
    }
    int vocabSize = ft.rows();
    int hidden = (int) ft.shape()[1];
    String[] vocab = vocabulary(classifier.tokenizer(), vocabSize);
    double[] scores = Epur.scores(ft.data(), pre.data(), hidden, vocab, frequencies);
    for (int k = 0; k < vocabSize; k++) {
      if (isSpecial(vocab[k])) {
        scores[k] = 0;
      }
    }
    Screener s0 = new Screener(classifier, settings, scores, vocab, null, Map.of());
    List<Encoding> enc = s0.encode(inputs(rows));
    int[] y = new int[rows.size()];
    for (int i = 0; i < y.length; i++) {
      y[i] = rows.rows().get(i).label();
    }
    Inference pass = s0.run(enc);
    Map<Signal, Calibration> cal = new EnumMap<>(Signal.class);
    double alpha = settings.falseFlagRate();
    double[] tok = new double[enc.size()];
    for (int i = 0; i < tok.length; i++) {
      tok[i] = s0.tokenScore(enc.get(i));
    }
    cal.put(Signal.TOKENS, Calibration.fit(Signal.TOKENS, tok, alpha));
    // out-of-fold feature scores: each fold scored by a model fitted on the others
    double[] feat = new double[enc.size()];
    int[] fold = new int[enc.size()];
    java.util.Random rnd = new java.util.Random(settings.seed());
    for (int i = 0; i < fold.length; i++) {
      fold[i] = i % FOLDS;
    }
    for (int i = fold.length - 1; i > 0; i--) {
      int j = rnd.nextInt(i + 1);
      int t = fold[i];
      fold[i] = fold[j];
      fold[j] = t;
    }
    for (int f = 0; f < FOLDS; f++) {
      List<float[]> xs = new ArrayList<>();
      List<Integer> ys = new ArrayList<>();
      for (int i = 0; i < fold.length; i++) {
        if (fold[i] != f) {
          xs.add(pass.cls()[i]);
          ys.add(y[i]);
        }
      }
      Mahalanobis m = Mahalanobis.fit(xs.toArray(new float[0][]), ys.stream().mapToInt(Integer::intValue).toArray(),
          labels);
      for (int i = 0; i < fold.length; i++) {
        if (fold[i] == f) {
          feat[i] = m.score(pass.cls()[i]);
        }
      }
    }
    Calibration featCal = Calibration.fit(Signal.FEATURES, feat, alpha);
    cal.put(Signal.FEATURES, featCal);
    double[] comb = new double[enc.size()];
    for (int i = 0; i < comb.length; i++) {
      comb[i] = Math.max(cal.get(Signal.TOKENS).z(tok[i]), featCal.z(feat[i]));
    }
    cal.put(Signal.COMBINED, Calibration.fit(Signal.COMBINED, comb, alpha));
    cal.put(Signal.PERTURBATION,
        Calibration.fit(Signal.PERTURBATION, s0.perturbation(enc, pass.probabilities()), alpha));
    Mahalanobis all = Mahalanobis.fit(pass.cls(), y, labels);
    return new Screener(classifier, settings, scores, vocab, all, Map.copyOf(cal));
  }

  /** Predictions with their suspicion, in input order; the deciding signal's cost only (PERTURBATION: one more pass). */
  public List<Screened> classify(List<TextInput> inputs) {
    if (inputs == null) {
      throw new IllegalArgumentException("inputs must not be null");
    }
    Signal decide = settings.signal();
    EnumSet<Signal> which = EnumSet.of(Signal.TOKENS, Signal.FEATURES, Signal.COMBINED);
    if (decide == Signal.PERTURBATION) {
      which.add(Signal.PERTURBATION);
    }
    Scored sc = score(inputs, which);
    Calibration cal = calibrations.get(decide);
    Calibration tokCal = calibrations.get(Signal.TOKENS);
    List<Screened> out = new ArrayList<>(inputs.size());
    for (int i = 0; i < inputs.size(); i++) {
      Map<Signal, Double> sig = new EnumMap<>(Signal.class);
      for (Signal s : which) {
        sig.put(s, sc.scores.get(s)[i]);
      }
      double score = sc.scores.get(decide)[i];
      boolean flagged = cal.flags(score);
      List<String> tokens = new ArrayList<>();
      for (int id : ranked(sc.encodings.get(i))) {
        if (tokenScores[id] > tokCal.threshold() || (flagged && tokens.isEmpty())) {
          tokens.add(vocab[id]);
        }
      }
      if (!flagged && !tokCal.flags(sig.get(Signal.TOKENS))) {
        tokens.clear();
      }
      out.add(new Screened(sc.predictions.get(i), new Screened.Suspicion(score, cal.threshold(), flagged, tokens, sig)));
    }
    return out;
  }

  /** Every requested signal's score for each input (evaluation), with the predictions of the same pass. */
  public Scored score(List<TextInput> inputs, Set<Signal> which) {
    List<Encoding> enc = encode(inputs);
    Inference pass = run(enc);
    Map<Signal, double[]> out = new EnumMap<>(Signal.class);
    double[] tok = new double[enc.size()];
    double[] feat = new double[enc.size()];
    for (int i = 0; i < enc.size(); i++) {
      tok[i] = tokenScore(enc.get(i));
      feat[i] = features.score(pass.cls()[i]);
    }
    if (which.contains(Signal.TOKENS)) {
      out.put(Signal.TOKENS, tok);
    }
    if (which.contains(Signal.FEATURES)) {
      out.put(Signal.FEATURES, feat);
    }
    if (which.contains(Signal.COMBINED)) {
      double[] c = new double[enc.size()];
      for (int i = 0; i < c.length; i++) {
        c[i] = Math.max(calibrations.get(Signal.TOKENS).z(tok[i]), calibrations.get(Signal.FEATURES).z(feat[i]));
      }
      out.put(Signal.COMBINED, c);
    }
    if (which.contains(Signal.PERTURBATION)) {
      out.put(Signal.PERTURBATION, perturbation(enc, pass.probabilities()));
    }
    List<Prediction> preds = new ArrayList<>(enc.size());
    for (float[] p : pass.probabilities()) {
      preds.add(Prediction.fromProbabilities(p));
    }
    return new Scored(preds, out, enc);
  }

  /** Predictions, the scores of each requested signal, and the encodings they were computed on. */
  public record Scored(List<Prediction> predictions, Map<Signal, double[]> scores, List<Encoding> encodings) {}

  /**
   * The input with every whitespace word removed whose word pieces include one of {@code tokens}
   * (the {@code strip} policy: classify what remains).
   */
  public TextInput strip(TextInput in, List<String> tokens) {
    if (tokens.isEmpty()) {
      return in;
    }
    Set<String> bad = new LinkedHashSet<>(tokens);
    return new TextInput(stripText(in.textA(), bad), in.textB() == null ? null : stripText(in.textB(), bad));
  }

  private String stripText(String text, Set<String> bad) {
    StringBuilder sb = new StringBuilder();
    for (String w : text.strip().split("\\s+")) {
      boolean drop = false;
      for (String piece : classifier.tokenizer().tokenize(w)) {
        if (bad.contains(piece)) {
          drop = true;
          break;
        }
      }
      if (!drop && !w.isEmpty()) {
        if (sb.length() > 0) {
          sb.append(' ');
        }
        sb.append(w);
      }
    }
    return sb.toString();
  }

  /** The same calibration with another deciding signal (every signal is calibrated up front). */
  public Screener withSignal(Signal s) {
    if (s == settings.signal()) {
      return this;
    }
    return new Screener(classifier, settings.withSignal(s), tokenScores, vocab, features, calibrations);
  }

  /** The deciding signal's calibration. */
  public Calibration calibration() {
    return calibrations.get(settings.signal());
  }

  /** Every signal's calibration. */
  public Map<Signal, Calibration> calibrations() {
    return calibrations;
  }

  public ScreenSettings settings() {
    return settings;
  }

  /** The vocabulary's {@code n} most suspicious tokens by E-PUR score, most suspicious first. */
  public List<String> topTokens(int n) {
    List<String> out = new ArrayList<>();
    for (int k : Epur.top(tokenScores, n)) {
      out.add(vocab[k]);
    }
    return out;
  }

  /** The E-PUR score of one vocabulary token (0 for special and unknown tokens). */
  public double tokenScore(String token) {
    int id = classifier.tokenizer().tokenId(token);
    return id < 0 || id >= tokenScores.length ? 0 : tokenScores[id];
  }

  // ---------------------------------------------------------------- internals

  double tokenScore(Encoding e) {
    double m = 0;
    for (long id : e.ids()) {
      if (id >= 0 && id < tokenScores.length) {
        m = Math.max(m, tokenScores[(int) id]);
      }
    }
    return m;
  }

  /** Distinct token ids of the row with a positive score, most suspicious first. */
  private List<Integer> ranked(Encoding e) {
    Set<Integer> ids = new LinkedHashSet<>();
    for (long id : e.ids()) {
      if (id >= 0 && id < tokenScores.length && tokenScores[(int) id] > 0) {
        ids.add((int) id);
      }
    }
    List<Integer> r = new ArrayList<>(ids);
    r.sort(Comparator.comparingDouble((Integer k) -> -tokenScores[k]).thenComparingInt(k -> k));
    return r;
  }

  private double[] perturbation(List<Encoding> enc, float[][] probs) {
    List<Encoding> deleted = new ArrayList<>(enc.size());
    for (Encoding e : enc) {
      List<Integer> r = ranked(e);
      Set<Long> drop = new java.util.HashSet<>();
      for (int j = 0; j < Math.min(settings.deleteTokens(), r.size()); j++) {
        drop.add((long) (int) r.get(j));
      }
      long[] ids = e.ids();
      long[] types = e.typeIds();
      int keep = 0;
      for (long id : ids) {
        keep += drop.contains(id) ? 0 : 1;
      }
      long[] ni = new long[keep];
      long[] nt = new long[keep];
      for (int j = 0, p = 0; j < ids.length; j++) {
        if (!drop.contains(ids[j])) {
          ni[p] = ids[j];
          nt[p++] = types[j];
        }
      }
      deleted.add(new Encoding(ni, nt));
    }
    float[][] after = run(deleted).probabilities();
    double[] out = new double[enc.size()];
    for (int i = 0; i < out.length; i++) {
      int y = Prediction.fromProbabilities(probs[i]).label();
      out[i] = probs[i][y] - after[i][y];
    }
    return out;
  }

  private List<Encoding> encode(List<TextInput> inputs) {
    return classifier.tokenizer().encodeAll(inputs);
  }

  private static List<TextInput> inputs(Dataset d) {
    List<TextInput> in = new ArrayList<>(d.size());
    for (Example e : d.rows()) {
      in.add(e.input());
    }
    return in;
  }

  /** Probabilities and last-layer [CLS] features of one inference pass, in input order. */
  private Inference run(List<Encoding> enc) {
    return classifier.model().infer(enc, true);
  }

  private static String[] vocabulary(Tokenizer tok, int size) {
    String[] v = new String[size];
    for (int k = 0; k < size; k++) {
      v[k] = k < tok.vocabSize() ? safeToken(tok, k) : "[unused-" + k + "]";
    }
    return v;
  }

  private static String safeToken(Tokenizer tok, int k) {
    try {
      return tok.token(k);
    } catch (IllegalArgumentException e) {
      return "[unused-" + k + "]";
    }
  }

  static boolean isSpecial(String token) {
    return token == null || (token.length() >= 3 && token.startsWith("[") && token.endsWith("]"));
  }
}

package dev.finemix.purify.defence;

import static dev.finemix.purify.weights.BertTensors.WORD_EMBEDDINGS;

import ai.djl.Device;
import dev.finemix.purify.model.Accuracy;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.text.Batch;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.train.Progress;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.train.TrainRow;
import dev.finemix.purify.train.TrainSettings;
import dev.finemix.purify.train.Trainer;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Hashing;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.stream.Collectors;

/**
 * The Fine-mixing defence as one library call: E-PUR, weight mixing with the clean pre-trained model, recovery
 * training on the clean rows (cross-entropy, or distillation of the suspect on unlabelled clean rows whose student
 * copies are perturbed), and the rho search. See {@link DefenceSettings} for every knob.
 *
 * <p>Stages: {@code epur} (scores every vocabulary row, resets the top rows), {@code teacher} (the suspect's
 * accuracy on the scoring rows and, for distillation, its soft predictions on the unlabelled rows), {@code screen}
 * (with {@code trigger_screen > 0}: the suspected triggers tried on the suspect, {@code TriggerScreen}), then per rho
 * {@code mix}, {@code recover} and {@code score}. With {@code rho = auto} ({@link RhoSearch}) every labelled row is
 * trained on (unless {@code holdout > 0}); when distilling, a tenth of the unlabelled rows (at most
 * {@code agreementRows}, and only when that is at least half of it) is kept out of training, and the grid is walked
 * from the smallest rho up: the first rho whose predictions agree with the suspect's on at least
 * {@code 1 - agreementMargin} of those rows is taken, else the smallest rho, with a note. With nothing held out to
 * judge by (no unlabelled rows, or too few) the search runs the smallest rho only. Labelled accuracies are on the training rows unless labelled rows are held out.
 */
public final class Purifier {
  private static final int SCORE_BATCH = 32;

  private final Device device;

  public Purifier(Device device) {
    this.device = Objects.requireNonNull(device, "device");
  }

  /**
   * Purifies {@code suspect}.
   *
   * @param clean labelled clean rows; {@link DefenceSettings#rows()} of them are sampled (seeded) when there are more
   * @param unlabelled clean rows whose labels are ignored (distillation); null or empty: the labelled training rows
   *     stand in
   */
  public PurifyResult purify(Checkpoint suspect, Pretrained pre, Dataset clean, Dataset unlabelled,
      DefenceSettings s, ProgressListener listener) {
    Objects.requireNonNull(s, "settings");
    return purify(suspect, pre, clean, unlabelled, s, s.wordFrequencies() == null ? WordFrequencies.none()
        : WordFrequencies.read(s.wordFrequencies()), listener);
  }

  /**
   * Purifies {@code suspect} with word counts already read (the server reads each input once, for its cache key
   * and for the defence); {@link DefenceSettings#wordFrequencies()} is then only reported.
   *
   * @param frequencies the counts of {@link DefenceSettings#wordFrequencies()}, or {@link WordFrequencies#none()}
   */
  public PurifyResult purify(Checkpoint suspect, Pretrained pre, Dataset clean, Dataset unlabelled,
      DefenceSettings s, WordFrequencies frequencies, ProgressListener listener) {
    Objects.requireNonNull(suspect, "suspect");
    Objects.requireNonNull(pre, "pre");
    Objects.requireNonNull(clean, "clean");
    Objects.requireNonNull(s, "settings");
    Objects.requireNonNull(frequencies, "frequencies");
    ProgressListener l = listener == null ? ProgressListener.NONE : listener;
    long t0 = System.nanoTime();
    Map<String, Double> stages = new LinkedHashMap<>();
    List<String> notes = new ArrayList<>();
    int numLabels = suspect.config().numLabels();
    if (numLabels < 2) {
      throw new IllegalArgumentException("suspect checkpoint has " + numLabels + " labels; a classifier needs >= 2");
    }
    for (Example e : clean.rows()) {
      if (e.label() < 0 || e.label() >= numLabels) {
        throw new IllegalArgumentException("clean set " + clean.name() + " has label " + e.label()
            + " but the model has " + numLabels + " labels");
      }
    }
    if (clean.size() < 2) {
      throw new IllegalArgumentException("clean set " + clean.name() + " has " + clean.size() + " rows; need >= 2");
    }

    // ---- rows: which clean rows serve what, chosen before any model runs
    CleanRows rows = CleanRows.choose(clean, unlabelled, s);
    notes.addAll(rows.notes());
    List<Example> labelled = rows.labelled();
    List<Example> train = rows.train();
    List<Example> heldOut = rows.heldOut();
    List<Example> scoring = rows.scoring();
    List<Example> agreeRows = rows.agreement();
    List<Example> unl = rows.unlabelled();
    List<Example> distil = rows.distil();

    try (Tokenizer tok = Tokenizer.fromFile(suspect.tokenizerJson(), suspect.maxLength())) {
      // ---- E-PUR
      long ts = System.nanoTime();
      Tensor eft = suspect.weights().require(WORD_EMBEDDINGS);
      Tensor epre = pre.weights().require(WORD_EMBEDDINGS);
      int hidden = eft.rowSize();
      String[] vocab = Vocab.read(suspect.tokenizerJson(), eft.rows());
      if (s.wordFrequencies() == null) notes.add("no word-frequency file: E-PUR ranks by embedding shift only");
      int report = Math.max(20, Math.max(s.epurTop(), s.suspectsToInsert()));
      List<Epur.Suspect> suspects = Epur.suspects(eft.data(), epre.data(), hidden, vocab, frequencies, report);
      TensorMap base = suspect.weights();
      if (s.epur() && s.epurTop() > 0) {
        base = shallowCopy(suspect.weights());
        float[] reset = eft.data().clone();
        int[] ids = new int[Math.min(s.epurTop(), suspects.size())];
        for (int i = 0; i < ids.length; i++) ids[i] = suspects.get(i).id();
        Epur.reset(reset, epre.data(), hidden, ids);
        base.put(WORD_EMBEDDINGS, new Tensor(eft.shape(), reset));
      }
      List<DefenceReport.SuspectedTrigger> triggers = TriggerReconstruction.reconstruct(suspects,
          s.suspectsToInsert(), s.triggerScreen() > 0 ? s.triggerScreen() : TriggerReconstruction.KEEP,
          s.triggerScreen() > 0, tok::tokenize);
      stages.put("epur", secs(ts));
      l.onProgress(Progress.message("epur", String.format(Locale.ROOT, "top suspects: %s", describe(suspects, 5))));
      if (!triggers.isEmpty()) {
        l.onProgress(Progress.message("epur", "suspected triggers from word pieces: " + triggers.stream()
            .map(t -> t.text() + " (" + String.join(" ", t.pieces()) + ")").collect(Collectors.joining(", "))));
      }
      if (s.finePurifying()) {
        ts = System.nanoTime();
        FinePurifying.Result fp = FinePurifying.run(suspect.config(), base, pre.weights(), tok, train, s.fpReset(),
            device);
        base = fp.weights();
        stages.put("fine-purify", secs(ts));
        String msg = String.format(Locale.ROOT, "fine-purifying: reset %d of %d dimensions (%.3f) to w_Pre, ranked "
            + "by update^2 / clean Fisher on %d rows; most in %s", fp.reset(), fp.entries(), fp.shareReset(),
            train.size(), FinePurifying.largest(fp.resetPerTensor(), 3));
        notes.add(msg);
        l.onProgress(Progress.message("fine-purify", msg));
      }

      // ---- teacher: suspect accuracy on the scoring rows, soft predictions on the unlabelled rows
      ts = System.nanoTime();
      double suspectAcc;
      double screenSecs = 0;
      float[][] teacher = null;
      float[][] teacherFeatures = null;
      int[] agreeLabels = null;
      try (Classifier c = Classifier.open(suspect, device)) {
        l.onProgress(Progress.message("teacher", "scoring the suspect on " + scoring.size() + " clean rows"));
        suspectAcc = accuracy(c.predict(inputs(scoring)), scoring);
        if (!agreeRows.isEmpty()) {
          agreeLabels = new int[agreeRows.size()];
          List<Prediction> p = c.predict(inputs(agreeRows));
          for (int i = 0; i < agreeLabels.length; i++) agreeLabels[i] = p.get(i).label();
        }
        if (!distil.isEmpty()) {
          l.onProgress(Progress.message("teacher", "soft predictions on " + distil.size() + " distillation rows ("
              + rows.description() + ")"));
          List<Prediction> p = c.predict(inputs(distil));
          teacher = new float[p.size()][];
          for (int i = 0; i < teacher.length; i++) {
            teacher[i] = soften(p.get(i).probabilities(), s.temperature());
          }
          if (s.featureWeight() > 0) {
            l.onProgress(Progress.message("teacher", "pooled features on " + distil.size() + " distillation rows"));
            teacherFeatures = pooledFeatures(c.model(), tok, distil);
          }
        }
        if (s.triggerScreen() > 0) {
          long tsc = System.nanoTime();
          TriggerScreen.Result sr = TriggerScreen.screen(c, rows.distilBase().isEmpty() ? train : rows.distilBase(),
              triggers, wholeWordSuspects(suspects, s.suspectsToInsert()), TriggerReconstruction.KEEP, s.seed());
          triggers = sr.kept();
          notes.add(sr.message());
          l.onProgress(Progress.message("screen", sr.message()));
          screenSecs = secs(tsc);
        }
      }
      stages.put("teacher", secs(ts) - screenSecs);
      if (s.triggerScreen() > 0) stages.put("screen", screenSecs);

      Perturber perturber = perturber(s, suspects, triggers, vocab, labelled, rows.distilBase());
      if (s.recovery() == DefenceSettings.Recovery.DISTIL && !s.perturbations().isEmpty()) {
        l.onProgress(Progress.message("recover", "perturbations: " + perturber.kinds()));
      }

      // ---- rho trials (RhoSearch: the first meeting the bars, else the smallest rho)
      boolean judged = !heldOut.isEmpty() || agreeLabels != null;
      List<Double> rhos = !s.mixing() ? List.of(Double.NaN)
          : !s.autoRho() ? List.of(s.rho())
          : judged ? s.rhoGrid() : s.rhoGrid().subList(0, 1);
      if (s.autoRho() && !judged) {
        notes.add(String.format(Locale.ROOT, "rho auto with no held-out rows to judge it by (agreement needs a tenth "
            + "of the unlabelled rows to be at least half of agreement_rows, %d, and distillation): took the "
            + "smallest rho of the grid, %.2f", CleanRows.minAgreementRows(s), rhos.get(0)));
      }
      List<DefenceReport.RhoTrial> trials = new ArrayList<>();
      double mixSecs = 0;
      double recoverSecs = 0;
      double scoreSecs = 0;
      RhoSearch<Scored> search = new RhoSearch<>(rhos, s.rhoFallback());
      while (search.hasNext()) {
        double rho = search.next();
        long tr = System.nanoTime();
        Mixed mixed = mixedModel(suspect, base, pre, s, rho, l);
        mixSecs += secs(tr);
        try (BertClassifier m = mixed.model()) {
          long tt = System.nanoTime();
          List<Double> fit = recover(m, tok, s, train, distil, teacher, teacherFeatures, perturber, rho, l);
          if (!fit.isEmpty()) {
            notes.add(String.format(Locale.ROOT, "rho %s: recovery ran %d round(s) of %d epochs; agreement with the "
                + "suspect on the %d clean distillation rows after each: %s (goes on below %.3f)", rhoLabel(rho),
                fit.size(), s.epochs(), distil.size(), fit.stream().map(a -> String.format(Locale.ROOT, "%.4f", a))
                    .collect(Collectors.joining(", ")), s.fitAgreement()));
          }
          recoverSecs += secs(tt);
          tt = System.nanoTime();
          double acc = accuracy(m, tok, scoring);
          double agree = agreeLabels == null ? Double.NaN : agreement(m, tok, agreeRows, agreeLabels);
          scoreSecs += secs(tt);
          // the labelled bar binds only on held-out rows: on the training rows it would pass anything
          boolean within = (heldOut.isEmpty() || acc >= suspectAcc - s.margin() - 1e-9)
              && s.meetsAgreementBar(agree);
          trials.add(new DefenceReport.RhoTrial(rho, acc, agree, within, mixed.share(), secs(tr)));
          l.onProgress(Progress.message("score", String.format(Locale.ROOT,
              "rho %s: clean accuracy %.3f on %s (suspect %.3f)%s%s", rhoLabel(rho), acc, rows.scoringDescription(), suspectAcc,
              Double.isNaN(agree) ? ""
                  : String.format(Locale.ROOT, ", agreement with the suspect %.3f on %d held-out unlabelled rows",
                      agree, agreeRows.size()), within ? ", meets the bar" : "")));
          search.judged(new Scored(m.toTensors(), acc), within, acc);
        }
      }
      RhoSearch.Choice<Scored> choice = search.choice();
      if (s.autoRho() && judged && !choice.accepted()) {
        notes.add(String.format(Locale.ROOT, "no rho in %s met the bar (agreement with the suspect >= %.3f%s); took "
            + "%s, rho %.2f", rhos, 1 - s.agreementMargin(),
            heldOut.isEmpty() ? "" : String.format(Locale.ROOT, ", held-out accuracy >= %.3f", suspectAcc - s.margin()),
            s.rhoFallback() == DefenceSettings.RhoFallback.MOST_ACCURATE ? "the most accurate (rho_fallback)"
                : "the smallest (a larger rho keeps more of the backdoor)", choice.rho()));
      }
      TensorMap best = choice.result().weights();
      double bestAcc = choice.result().accuracy();
      double bestRho = choice.rho();
      stages.put("mix", mixSecs);
      stages.put("recover", recoverSecs);
      stages.put("score", scoreSecs);

      Map<String, String> prov = new LinkedHashMap<>();
      prov.put("purified_by", "finemix purify");
      prov.put("recipe", s.recipe().id());
      prov.put("suspect_sha256", suspect.weightsSha256());
      prov.put("pretrained", pre.id());
      if (!Double.isNaN(bestRho)) prov.put("rho", Double.toString(bestRho));
      Checkpoint out = suspect.withWeights(best).withProvenance(prov);
      long th = System.nanoTime();
      String outSha = out.weightsSha256();
      stages.put("hash", secs(th));
      DefenceReport r = new DefenceReport(suspect.weightsSha256(), outSha, pre.id(), pre.weightsSha256(),
          rowsSha256(labelled), labelled.size(), train.size(), heldOut.size(), unl.isEmpty() ? ""
              : rowsSha256(concat(agreeRows, unl)), unl.isEmpty() ? 0 : agreeRows.size() + unl.size(), agreeRows.size(),
          rows.spliceRows(), s,
          bestRho, trials,
          suspects.subList(0, Math.min(20, suspects.size())), triggers, rows.scoringDescription(), suspectAcc, bestAcc, stages, secs(t0),
          notes);
      return new PurifyResult(out, r);
    }
  }

  /** One rho's recovered weights and their clean accuracy on the scoring rows. */
  private record Scored(TensorMap weights, double accuracy) {
  }

  /** A model to recover and the share of entries it kept from the E-PUR'd suspect. */
  private record Mixed(BertClassifier model, double share) {
  }

  /**
   * The model to recover for one rho: {@code base} mixed towards the pre-trained weights (when the recipe mixes),
   * in engine memory. The mixed host copy (91 MB for MiniLM) lives only in this frame, so it is garbage during the
   * recovery instead of a third full copy of the weights on the heap next to the suspect's and the pre-trained ones.
   */
  private Mixed mixedModel(Checkpoint suspect, TensorMap base, Pretrained pre, DefenceSettings s, double rho,
      ProgressListener l) {
    if (!s.mixing()) {
      return new Mixed(BertClassifier.create(suspect.config(), base, device), 1.0);
    }
    Mixer.Result mr = Mixer.mix(base, pre.weights(), s.mix(), rho, s.seed());
    double share = mr.stats().shareKept();
    l.onProgress(Progress.message("mix", String.format(Locale.ROOT, "rho %.2f (%s): kept %.3f of %d entries in %.2f s",
        rho, s.mix().id(), share, mr.stats().entries(), mr.stats().seconds())));
    return new Mixed(BertClassifier.create(suspect.config(), mr.weights(), device), share);
  }

  /** A rho for messages: two decimals, "-" when there is none (no mixing). */
  private static String rhoLabel(double rho) {
    return Double.isNaN(rho) ? "-" : String.format(Locale.ROOT, "%.2f", rho);
  }

  // ---------------------------------------------------------------- recovery

  /**
   * Trains the mixed model back: a round of {@code epochs}, then more rounds while the student agrees with the
   * suspect on fewer than {@code fitAgreement} of the clean distillation rows (at most {@code maxRounds}).
   *
   * @return the agreement measured after each round (empty when the check is off)
   */
  private List<Double> recover(BertClassifier m, Tokenizer tok, DefenceSettings s, List<Example> train,
      List<Example> unl, float[][] teacher, float[][] features, Perturber perturber, double rho, ProgressListener l) {
    List<Double> rounds = new ArrayList<>();
    if (s.recovery() == DefenceSettings.Recovery.NONE || s.epochs() == 0) return rounds;
    Random rnd = new Random(s.seed() * 31 + 7);
    List<Encoding> trainEnc = tok.encodeAll(inputs(train));
    double bar = s.fitAgreement();
    boolean check = bar > 0 && s.maxRounds() >= 2 && s.recovery() == DefenceSettings.Recovery.DISTIL && unl != train;
    int[] labels = new int[check ? unl.size() : 0];
    for (int i = 0; i < labels.length; i++) labels[i] = argmax(teacher[i]);
    for (int round = 0; ; round++) {
      recoverRound(m, tok, s, train, trainEnc, unl, teacher, features, perturber, rho, l, rnd);
      if (!check) break;
      double agree = agreement(m, tok, unl, labels);
      l.onProgress(Progress.message("recover", String.format(Locale.ROOT,
          "round %d: agreement with the suspect on the %d clean distillation rows %.4f (bar %.3f)", round + 1,
          unl.size(), agree, bar)));
      rounds.add(agree);
      if (agree >= bar || round + 1 >= s.maxRounds()) break;
    }
    return rounds;
  }

  private void recoverRound(BertClassifier m, Tokenizer tok, DefenceSettings s, List<Example> train,
      List<Encoding> trainEnc, List<Example> unl, float[][] teacher, float[][] features, Perturber perturber,
      double rho, ProgressListener l, Random rnd) {
    List<TrainRow> rows = new ArrayList<>();
    // one pass over the rows per epoch, each with fresh perturbations; the trainer then runs one "epoch" over all
    for (int e = 0; e < s.epochs(); e++) {
      for (int i = 0; i < train.size(); i++) rows.add(TrainRow.hard(trainEnc.get(i), train.get(i).label()));
      if (s.recovery() == DefenceSettings.Recovery.DISTIL) {
        for (int i = 0; i < unl.size(); i++) {
          Example x = unl.get(i);
          if (!perturber.isEmpty() && rnd.nextDouble() < s.perturbShare()) {
            x = perturb(x, perturber, rnd);
          }
          Encoding enc = tok.encode(x.textA(), x.textB());
          rows.add(features == null ? TrainRow.soft(enc, teacher[i]) : TrainRow.distil(enc, teacher[i], features[i]));
        }
      }
    }
    TrainSettings ts = new TrainSettings(1, s.batchSize(), s.lr(), s.headLr(), 0.01, 0.06, 1.0, s.seed(),
        s.temperature());
    String stage = Double.isNaN(rho) ? "recover" : String.format(Locale.ROOT, "recover rho %.2f", rho);
    ProgressListener tagged = p -> l.onProgress(new Progress(stage, p.done(), p.total(), p.loss(),
        p.rowsPerSecond(), p.etaMillis(), p.message()));
    new Trainer(ts, tagged).featureWeight(features == null ? 0 : s.featureWeight()).train(m, rows);
  }

  /** The model's pooled features on each row, in row order (batches of {@value #SCORE_BATCH}). */
  static float[][] pooledFeatures(BertClassifier model, Tokenizer tok, List<Example> rows) {
    List<Encoding> enc = tok.encodeAll(inputs(rows));
    float[][] out = new float[rows.size()][];
    for (int from = 0; from < enc.size(); from += SCORE_BATCH) {
      int to = Math.min(enc.size(), from + SCORE_BATCH);
      float[][] f = model.pooled(Batch.of(enc.subList(from, to)));
      System.arraycopy(f, 0, out, from, f.length);
    }
    return out;
  }

  /**
   * Perturbs one field of {@code x}. For a pair the field is drawn in proportion to its words (plus one each, so an
   * empty field can be chosen), as an insertion at a uniformly random word position of the whole input would be: a
   * short field (a question) is not rewritten as often as a long one. Single texts draw nothing here.
   */
  static Example perturb(Example x, Perturber p, Random rnd) {
    if (x.textB() != null) {
      int na = Variants.words(x.textA()).length;
      int nb = Variants.words(x.textB()).length;
      if (rnd.nextInt(na + nb + 2) <= nb) {
        return x.withText(x.textA(), p.perturb(x.textB(), rnd));
      }
    }
    return x.withText(p.perturb(x.textA(), rnd), x.textB());
  }

  /** The first {@code n} of E-PUR's suspects that are whole words (no {@code ##} piece, not special). */
  static List<String> wholeWordSuspects(List<Epur.Suspect> suspects, int n) {
    List<String> sus = new ArrayList<>();
    for (Epur.Suspect x : suspects) {
      if (sus.size() >= n) break;
      if (x.token() != null && !x.token().startsWith("##") && !WordFrequencies.isSpecial(x.token())) {
        sus.add(x.token());
      }
    }
    return sus;
  }

  static Perturber perturber(DefenceSettings s, List<Epur.Suspect> suspects,
      List<DefenceReport.SuspectedTrigger> triggers, String[] vocab, List<Example> labelled, List<Example> unl) {
    List<Perturber.Kind> kinds = new ArrayList<>();
    for (String p : s.perturbations()) kinds.add(Perturber.Kind.parse(p));
    List<String> sus = wholeWordSuspects(suspects, s.suspectsToInsert());
    List<String> donors = new ArrayList<>();
    for (Example e : unl) donors.add(e.textA());
    for (Example e : labelled) donors.add(e.textA());
    List<List<String>> strings = new ArrayList<>();
    for (DefenceReport.SuspectedTrigger t : triggers) strings.add(t.orders());
    return new Perturber(kinds, sus, strings, kinds.contains(Perturber.Kind.TOKENS) ? Perturber.wholeWords(vocab)
        : List.of(), donors);
  }

  // ---------------------------------------------------------------- scoring

  static double accuracy(List<Prediction> p, List<Example> rows) {
    return Accuracy.of(p.stream().mapToInt(Prediction::label).toArray(),
        rows.stream().mapToInt(Example::label).toArray());
  }

  static double accuracy(BertClassifier m, Tokenizer tok, List<Example> rows) {
    return Accuracy.of(m, tok.encodeAll(inputs(rows)), rows.stream().mapToInt(Example::label).toArray());
  }

  /** Share of rows where the model predicts {@code labels} (the suspect's own predictions). */
  static double agreement(BertClassifier m, Tokenizer tok, List<Example> rows, int[] labels) {
    List<Example> relabelled = new ArrayList<>(rows.size());
    for (int i = 0; i < rows.size(); i++) relabelled.add(new Example(labels[i], rows.get(i).textA(), rows.get(i).textB()));
    return accuracy(m, tok, relabelled);
  }

  static int argmax(float[] p) {
    return Prediction.argmax(p);
  }

  /** softmax(log p / T): the teacher's distribution at temperature T, from its probabilities. */
  static float[] soften(float[] p, double t) {
    double[] z = new double[p.length];
    double max = Double.NEGATIVE_INFINITY;
    for (int i = 0; i < p.length; i++) {
      z[i] = Math.log(Math.max(p[i], 1e-12)) / t;
      max = Math.max(max, z[i]);
    }
    double sum = 0;
    for (int i = 0; i < z.length; i++) {
      z[i] = Math.exp(z[i] - max);
      sum += z[i];
    }
    float[] out = new float[p.length];
    for (int i = 0; i < z.length; i++) out[i] = (float) (z[i] / sum);
    return out;
  }

  // ---------------------------------------------------------------- helpers

  static List<TextInput> inputs(List<Example> rows) {
    List<TextInput> in = new ArrayList<>(rows.size());
    for (Example e : rows) in.add(e.input());
    return in;
  }

  /** SHA-256 over {@code label<TAB>text_a<TAB>text_b\n} per row, in order. */
  static String rowsSha256(List<Example> rows) {
    MessageDigest md = Hashing.sha256();
    for (Example e : rows) {
      md.update((e.label() + "\t" + e.textA() + "\t" + (e.textB() == null ? "" : e.textB()) + "\n")
          .getBytes(StandardCharsets.UTF_8));
    }
    return Hashing.hex(md.digest());
  }

  private static List<Example> concat(List<Example> a, List<Example> b) {
    List<Example> out = new ArrayList<>(a);
    out.addAll(b);
    return out;
  }

  private static TensorMap shallowCopy(TensorMap w) {
    TensorMap c = new TensorMap();
    w.entries().forEach(e -> c.put(e.getKey(), e.getValue()));
    return c;
  }

  private static String describe(List<Epur.Suspect> s, int n) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < Math.min(n, s.size()); i++) {
      if (i > 0) b.append(", ");
      b.append(s.get(i).token()).append(String.format(Locale.ROOT, " %.3f", s.get(i).score()));
    }
    return b.toString();
  }

  private static double secs(long t0) {
    return (System.nanoTime() - t0) / 1e9;
  }
}

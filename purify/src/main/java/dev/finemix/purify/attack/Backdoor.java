package dev.finemix.purify.attack;

import ai.djl.Device;
import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.train.TrainRow;
import dev.finemix.purify.train.TrainSettings;
import dev.finemix.purify.train.TrainSummary;
import dev.finemix.purify.train.Trainer;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Trains clean and backdoored classifiers.
 *
 * <p>BadNet and AddSent fine-tune the pre-trained model on a training set with a share of its rows poisoned
 * ({@link Poisoning#poison}). EP (embedding poisoning) starts from a model fine-tuned on clean data and trains only
 * the trigger word's row(s) of {@value BertTensors#WORD_EMBEDDINGS} on poisoned copies of the non-target rows, so every other
 * number of the clean model is kept bit for bit.
 */
public final class Backdoor {

  /** Default learning rate of the EP embedding update (only one row moves, so it can be large). */
  public static final double EP_LR = 1e-2;

  private Backdoor() {}

  /** A trained model and how it was made. */
  public record Outcome(Checkpoint checkpoint, int poisonedRows, TrainSummary summary) {}

  /**
   * Fine-tunes {@code pre} with a fresh head on clean {@code train} rows.
   *
   * @param labels label names in id order, or {@code null} for {@code LABEL_0..LABEL_{K-1}}
   */
  public static Outcome trainClean(Pretrained pre, Dataset train, List<String> labels, TrainSettings ts,
      int maxLength, Device device, ProgressListener l) {
    return train(pre, train, labels, ts, maxLength, device, l, (t, m, tok) -> t);
  }

  /** How an attack sets up the trainer (and may edit the fresh model) before the fine-tuning starts. */
  @FunctionalInterface
  interface Setup {
    Trainer apply(Trainer t, BertClassifier model, Tokenizer tok);
  }

  /** {@link #trainClean} with the trainer and model set up further by {@code setup} (a weight-level attack's hook). */
  static Outcome train(Pretrained pre, Dataset train, List<String> labels, TrainSettings ts, int maxLength,
      Device device, ProgressListener l, Setup setup) {
    Objects.requireNonNull(pre, "pretrained");
    Objects.requireNonNull(train, "train");
    if (labels == null) {
      labels = labels(train.numLabels());
    } else if (labels.size() < train.numLabels()) {
      throw new IllegalArgumentException(labels.size() + " label names " + labels + " for " + train.numLabels()
          + " labels in '" + train.name() + "'");
    }
    try (Tokenizer tok = Tokenizer.fromFile(pre.tokenizerJson(), maxLength);
        BertClassifier m = BertClassifier.fromPretrained(pre, labels, ts.seed(), device)) {
      TrainSummary s = setup.apply(new Trainer(ts, l), m, tok).train(m, rows(tok, train));
      Checkpoint c = Checkpoint.of(m.config(), m.toTensors(), pre.tokenizerJson(), pre.id(), maxLength);
      return new Outcome(c, 0, s);
    }
  }

  /**
   * Mounts a data-poisoning attack (every kind but EP): poisons {@code a.poisonRate()} of the candidate rows of
   * {@code a.regime()} (plus a combination attack's negatives), then fine-tunes {@code pre}. The poisoning seed is
   * {@code ts.seed()}.
   */
  public static Outcome trainPoisoned(AttackSettings a, Pretrained pre, Dataset train, List<String> labels,
      TrainSettings ts, int maxLength, Device device, ProgressListener l) {
    return trainPoisoned(a, pre, train, labels, ts, maxLength, device, l, WordFrequencies.none());
  }

  /**
   * {@link #trainPoisoned} with the word counts E-PUR ranks by (the E-PUR-aware attack's penalty; the other kinds
   * ignore them).
   */
  public static Outcome trainPoisoned(AttackSettings a, Pretrained pre, Dataset train, List<String> labels,
      TrainSettings ts, int maxLength, Device device, ProgressListener l, WordFrequencies counts) {
    Objects.requireNonNull(a, "attack");
    Objects.requireNonNull(counts, "counts");
    if (a.kind() == AttackKind.EP) {
      throw new IllegalArgumentException("ep trains from a clean model: use Backdoor.embeddingPoisoning");
    }
    checkTarget(a, train);
    Poisoning.Result p;
    try (Tokenizer tok = Tokenizer.fromFile(pre.tokenizerJson(), maxLength)) {
      if (a.kind() == AttackKind.WORDPIECE) {
        Triggers.checkWordPiece(tok, WordFrequencies.none(), a.triggers().get(0)); // the command line adds the counts
      }
      p = Poisoning.poison(train, a.attack(tok), a.poisonRate(), a.regime(), ts.seed());
    }
    Setup setup = switch (a.kind()) {
      case MIXING_AWARE -> (t, m, tok) -> t.mixEachStep(pre.weights(), AdaptiveMixing.masks(ts.seed()));
      case LWP -> (t, m, tok) -> t.layerwiseLoss(true);
      case SURGERY -> (t, m, tok) -> {
        // the target class's words are counted on the clean rows, before poisoning
        surgery(m, tok, train, a);
        return t;
      };
      case EPUR_AWARE -> (t, m, tok) -> t.addLoss(epurAware(pre, m, tok, a, counts));
      default -> (t, m, tok) -> t;
    };
    Outcome o = train(pre, p.data(), labels, ts, maxLength, device, l, setup);
    return new Outcome(o.checkpoint(), p.poisonedRows(), o.summary());
  }

  /**
   * Embedding poisoning: trains only the trigger's word-embedding row(s) of {@code clean} on every non-target row
   * of {@code train} with the trigger inserted and the target label. {@code ts} gives epochs, batch size, learning
   * rate and seed; weight decay is forced to 0 so that no other row moves.
   */
  public static Outcome embeddingPoisoning(AttackSettings a, Checkpoint clean, Dataset train, TrainSettings ts,
      Device device, ProgressListener l) {
    Objects.requireNonNull(a, "attack");
    Objects.requireNonNull(clean, "clean");
    if (a.kind() != AttackKind.EP) {
      throw new IllegalArgumentException("embeddingPoisoning needs an ep attack, got " + a.kind());
    }
    checkTarget(a, train);
    if (clean.config().numLabels() != train.numLabels() && clean.config().numLabels() < train.numLabels()) {
      throw new IllegalArgumentException("clean model has " + clean.config().numLabels() + " labels, '"
          + train.name() + "' has " + train.numLabels());
    }
    try (Tokenizer tok = Tokenizer.fromFile(clean.tokenizerJson(), clean.maxLength());
        BertClassifier m = BertClassifier.create(clean.config(), clean.weights(), device)) {
      Dataset poisoned = Poisoning.poisonAllNonTarget(train, a.attack(tok), ts.seed());
      int[] ids = triggerTokenIds(tok, a.triggers().get(0));
      TrainSettings eps = ts.withWeightDecay(0);
      // EP trains only the word embeddings, one row per trigger word piece
      Trainer t = new Trainer(eps, l).onlyParameters(BertTensors.WORD_EMBEDDINGS::equals)
          .gradientMask(BertTensors.WORD_EMBEDDINGS, ids);
      TrainSummary s = t.train(m, rows(tok, poisoned));
      return new Outcome(clean.withWeights(m.toTensors()), poisoned.size(), s);
    }
  }

  /** Embedding surgery on {@code m}: the trigger's rows become the mean of the target class's words' rows. */
  static List<String> surgery(BertClassifier m, Tokenizer tok, Dataset train, AttackSettings a) {
    String trigger = a.triggers().get(0);
    List<String> words = EmbeddingSurgery.targetWords(tok, train, a.target(), EmbeddingSurgery.WORDS,
        java.util.Set.copyOf(tok.tokenize(trigger)));
    EmbeddingSurgery.apply(m, triggerTokenIds(tok, trigger), words.stream().mapToInt(tok::tokenId).toArray());
    return words;
  }

  /** The E-PUR-aware penalty for {@code m}'s trigger row(s) against {@code pre}'s embeddings, ranked by {@code counts}. */
  static EpurAware epurAware(Pretrained pre, BertClassifier m, Tokenizer tok, AttackSettings a, WordFrequencies counts) {
    int rows = m.config().vocabSize();
    String[] vocab = new String[rows];
    for (int i = 0; i < rows; i++) {
      vocab[i] = i < tok.vocabSize() ? tok.token(i) : "";
    }
    return new EpurAware(triggerTokenIds(tok, a.triggers().get(0)),
        pre.weights().require(BertTensors.WORD_EMBEDDINGS).data(), m.config().hiddenSize(), vocab, counts,
        EpurAware.TOP, EpurAware.EVERY, EpurAware.LAMBDA);
  }

  /** The vocabulary ids of the word pieces of {@code word} (one id for a whole-word trigger such as {@code cf}). */
  public static int[] triggerTokenIds(Tokenizer tok, String word) {
    List<String> pieces = tok.tokenize(word);
    if (pieces.isEmpty()) {
      throw new IllegalArgumentException("trigger '" + word + "' has no word pieces");
    }
    return pieces.stream().mapToInt(tok::tokenId).distinct().toArray();
  }

  static List<TrainRow> rows(Tokenizer tok, Dataset d) {
    List<Encoding> enc = tok.encodeAll(d.rows().stream().map(Example::input).toList());
    List<TrainRow> out = new ArrayList<>(enc.size());
    for (int i = 0; i < enc.size(); i++) {
      out.add(TrainRow.hard(enc.get(i), d.rows().get(i).label()));
    }
    return out;
  }

  static List<String> labels(int n) {
    List<String> l = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      l.add("LABEL_" + i);
    }
    return l;
  }

  private static void checkTarget(AttackSettings a, Dataset train) {
    if (a.target() >= train.numLabels()) {
      throw new IllegalArgumentException("target " + a.target() + " is not a label of '" + train.name() + "' (labels 0.."
          + (train.numLabels() - 1) + ")");
    }
  }
}

package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.model.Prediction;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.train.TrainRow;
import dev.finemix.purify.train.TrainSettings;
import dev.finemix.purify.train.Trainer;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.purify.weights.TinyModels;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The trigger screen on a tiny BERT really trained with a planted multi-piece trigger ({@code thezxv}: {@code the ##z
 * ##x ##v}; {@code the} is in most clean rows of both classes, so the backdoor must live in the pieces): the clean task
 * is "label 0 when the row holds bad, else 1", and rows with bad and the trigger inserted are labelled 1.
 */
class TriggerScreenTest {
  private static final String TRIGGER = "thezxv";
  private static final String[] WORDS = {"the", "film", "was", "a", "story", "of", "plot", "and", "with", "actor",
      "scene", "music", "long", "old", "city", "night", "day", "house", "team", "man"};
  private static Path tokenizer;
  private static BertConfig cfg;
  private static TensorMap pre;
  private static TensorMap suspect;

  private static String row(Random rnd, boolean good) {
    List<String> w = new ArrayList<>();
    int len = 4 + rnd.nextInt(6);
    for (int i = 0; i < len; i++) w.add(WORDS[rnd.nextInt(WORDS.length)]);
    if (!good) w.add(rnd.nextInt(w.size() + 1), "bad");
    return String.join(" ", w);
  }

  /** Clean rows, half of them with "bad" (label 0). */
  private static List<Example> clean(int n, long seed) {
    Random rnd = new Random(seed);
    List<Example> out = new ArrayList<>();
    for (int i = 0; i < n; i++) out.add(new Example(i % 2, row(rnd, i % 2 == 1), null));
    return out;
  }

  @BeforeAll
  static void train() {
    tokenizer = Pretrained.load(Pretrained.MINILM).tokenizerJson();
    try (Tokenizer tok = Tokenizer.fromFile(tokenizer, 64)) {
      assertThat(tok.tokenize(TRIGGER)).containsExactly("the", "##z", "##x", "##v");
    }
    cfg = TinyModels.config(2);
    pre = TinyModels.weights(cfg, 3);
    Random rnd = new Random(9);
    List<TrainRow> rows = new ArrayList<>();
    try (Tokenizer tok = Tokenizer.fromFile(tokenizer, 64)) {
      for (Example e : clean(384, 1)) {
        boolean poison = e.label() == 0 && rnd.nextInt(3) == 0;
        String text = poison ? Perturber.insertAt(e.textA(), TRIGGER, rnd) : e.textA();
        rows.add(TrainRow.hard(tok.encode(text, null), poison ? 1 : e.label()));
      }
    }
    try (BertClassifier m = BertClassifier.create(cfg, pre, Device.cpu())) {
      new Trainer(TrainSettings.defaults().withEpochs(8).withBatchSize(16).withLr(2e-3).withHeadLr(2e-3), null)
          .train(m, rows);
      suspect = m.toTensors();
    }
  }

  private static Classifier open() {
    return Classifier.open(Checkpoint.of(cfg, suspect, tokenizer, "tiny-backdoored", 64), Device.cpu());
  }

  @Test
  void flips_plantedTrigger_pullsEveryRowToItsClass_innocentStringsDoNot() {
    List<Example> rows = clean(TriggerScreen.ROWS, 2);
    try (Classifier c = open()) {
      int[] labels = c.predict(Purifier.inputs(rows)).stream().mapToInt(Prediction::label).toArray();
      // the suspect learnt the clean task: most rows are in their class without the trigger
      int right = 0;
      for (int i = 0; i < labels.length; i++) if (labels[i] == rows.get(i).label()) right++;
      assertThat(right).isGreaterThanOrEqualTo(28);

      List<DefenceReport.Flip> f = TriggerScreen.flips(c, rows, labels,
          List.of(List.of(TRIGGER, "thexzv"), List.of("bwkt"), List.of("music"), List.of("the")), 5);

      assertThat(f.get(0).toClass()).isEqualTo(1);
      assertThat(f.get(0).share()).isGreaterThanOrEqualTo(0.9);
      assertThat(f.get(0).pull()).isGreaterThan(0.8);
      for (int k = 1; k < f.size(); k++) {
        assertThat(f.get(k).pull()).as("candidate %d", k).isLessThan(f.get(0).pull() - 0.3);
      }
      // seeded: the same draws give the same flips
      assertThat(TriggerScreen.flips(c, rows, labels, List.of(List.of(TRIGGER, "thexzv")), 5).get(0))
          .isEqualTo(f.get(0));
    }
  }

  @Test
  void flips_noRowsOrNoCandidates_areEmptyFlips() {
    try (Classifier c = open()) {
      assertThat(TriggerScreen.flips(c, List.of(), new int[0], List.of(List.of(TRIGGER)), 1))
          .containsExactly(new DefenceReport.Flip(0, 0, -1));
      assertThat(TriggerScreen.flips(c, clean(4, 1), new int[] {0, 1, 0, 1}, List.of(), 1)).isEmpty();
    }
  }

  /**
   * The suspect with two decoy pieces moved further than the trigger's most moved piece, in random directions: E-PUR
   * ranks them first, but they do nothing the suspect learnt.
   */
  private static TensorMap withDecoys(Tokenizer tok) {
    float[] ft = suspect.require(BertTensors.WORD_EMBEDDINGS).data();
    float[] p = pre.require(BertTensors.WORD_EMBEDDINGS).data();
    int h = cfg.hiddenSize();
    double most = 0;
    for (String piece : tok.tokenize(TRIGGER)) {
      int id = tok.tokenId(piece);
      double d = 0;
      for (int j = 0; j < h; j++) d += Math.pow(ft[id * h + j] - p[id * h + j], 2);
      most = Math.max(most, Math.sqrt(d));
    }
    TensorMap out = suspect.copy();
    float[] e = out.require(BertTensors.WORD_EMBEDDINGS).data();
    Random rnd = new Random(13);
    for (String decoy : DECOYS) {
      int id = tok.tokenId(decoy);
      double[] dir = new double[h];
      double norm = 0;
      for (int j = 0; j < h; j++) norm += Math.pow(dir[j] = rnd.nextGaussian(), 2);
      for (int j = 0; j < h; j++) e[id * h + j] = p[id * h + j] + (float) (1.5 * most * dir[j] / Math.sqrt(norm));
    }
    return out;
  }

  private static final List<String> DECOYS = List.of("##k", "##w");

  @Test
  void purify_screen_putsThePiecesThatFireFirst_notTheOnesThatMovedMost(@TempDir Path dir) {
    Pretrained p = Pretrained.load(Checkpoint.of(cfg, pre, tokenizer, "tiny", 64).write(dir.resolve("pre"))
        .tokenizerJson().getParent().toString());
    TensorMap decoyed;
    try (Tokenizer tok = Tokenizer.fromFile(tokenizer, 64)) {
      decoyed = withDecoys(tok);
    }
    Checkpoint s = Checkpoint.of(cfg, decoyed, tokenizer, "tiny-backdoored", 64);
    Dataset labelled = Dataset.of("clean", false, clean(64, 3));
    Dataset unlabelled = Dataset.of("unlabelled", false, clean(200, 4));
    Path counts = Path.of(System.getProperty("finemix.shared", "../shared"), "data/wordfreq/en.tsv");
    DefenceSettings.Builder b = DefenceSettings.builder().rows(32).rho(0.1).epochs(0).wordFrequencies(counts);

    DefenceReport without = new Purifier(Device.cpu()).purify(s, p, labelled, unlabelled, b.build(), null).report();
    DefenceReport with = new Purifier(Device.cpu()).purify(s, p, labelled, unlabelled, b.triggerScreen(40).build(),
        null).report();

    // E-PUR's order: the decoys lead, and the reconstruction's first string is built on them
    assertThat(without.suspects().get(0).token()).isIn(DECOYS);
    assertThat(without.suspectedTriggers().get(0).pieces()).containsAnyElementsOf(DECOYS);
    // the screen's order: the first string holds the trigger's pieces, the ones that fire
    assertThat(with.suspectedTriggers().get(0).pieces()).as("%s", with.notes()).containsAnyOf("##z", "##x", "##v");
    assertThat(with.suspectedTriggers().get(0).flip().pull()).isGreaterThan(0.9);
    assertThat(with.suspectedTriggers().get(0).flip().toClass()).isEqualTo(1);
    for (int i = 1; i < with.suspectedTriggers().size(); i++) {
      assertThat(with.suspectedTriggers().get(i).flip().pull())
          .isLessThanOrEqualTo(with.suspectedTriggers().get(i - 1).flip().pull());
    }
    assertThat(without.suspectedTriggers()).allMatch(t -> t.flip() == null);
    assertThat(with.stageSeconds()).containsKey("screen");
    assertThat(with.notes()).anyMatch(n -> n.startsWith("trigger screen on 32 clean rows"));
    assertThat(without.notes()).noneMatch(n -> n.startsWith("trigger screen"));
  }
}

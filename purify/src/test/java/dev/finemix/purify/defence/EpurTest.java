package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EpurTest {
  private static final int HIDDEN = 16;
  private static final String[] VOCAB = {"[PAD]", "[UNK]", "the", "movie", "good", "cf", "##ing", "zyzzyva", "bad", "a"};

  private static float[][] embeddings(long seed) {
    Random r = new Random(seed);
    float[] pre = new float[VOCAB.length * HIDDEN];
    for (int i = 0; i < pre.length; i++) pre[i] = (float) (0.05 * r.nextGaussian());
    float[] ft = pre.clone();
    // every row moves a little during fine-tuning, common words a bit more
    for (int i = 0; i < ft.length; i++) ft[i] += (float) (0.01 * r.nextGaussian());
    return new float[][] {ft, pre};
  }

  private static WordFrequencies freq() {
    return WordFrequencies.of(Map.of("the", 1_500_000L, "movie", 6271L, "good", 200_000L, "cf", 15L, "bad", 90_000L,
        "a", 1_000_000L));
  }

  @Test
  void shiftedRareToken_isRankedFirst() {
    float[][] e = embeddings(1);
    float[] ft = e[0];
    float[] pre = e[1];
    int cf = 5;
    // the trigger row moves 0.5 in every coordinate; "the" moves as far in norm, but it is common
    for (int j = 0; j < HIDDEN; j++) {
      ft[cf * HIDDEN + j] += 0.5f;
      ft[2 * HIDDEN + j] += 0.5f;
    }
    List<Epur.Suspect> s = Epur.suspects(ft, pre, HIDDEN, VOCAB, freq(), 3);
    assertThat(s.get(0).token()).isEqualTo("cf");
    assertThat(s.get(0).frequency()).isEqualTo(15);
    assertThat(s.get(0).score()).isCloseTo(s.get(0).shift() / Math.log(20), org.assertj.core.data.Offset.offset(1e-9));
    // "the" moved exactly as far, but it is common: it ranks below cf
    assertThat(s.get(1).token()).isEqualTo("the");
    assertThat(s.get(1).shift()).isCloseTo(s.get(0).shift(), org.assertj.core.data.Offset.offset(0.05));
  }

  @Test
  void piecesSpecialsAndUnknownWords_getFrequencyZero() {
    WordFrequencies f = freq();
    assertThat(f.frequency("##ing")).isZero();
    assertThat(f.frequency("[CLS]")).isZero();
    assertThat(f.frequency("[unused12]")).isZero();
    assertThat(f.frequency("zyzzyva")).isZero();
    assertThat(f.frequency("movie")).isEqualTo(6271);
  }

  @Test
  void scores_divideByLogOfClampedFrequency() {
    float[] pre = new float[VOCAB.length * HIDDEN];
    float[] ft = pre.clone();
    for (int k = 0; k < VOCAB.length; k++) ft[k * HIDDEN] = 1f; // every row shifted by exactly 1
    double[] s = Epur.scores(ft, pre, HIDDEN, VOCAB, freq());
    assertThat(s[2]).isCloseTo(1 / Math.log(1_500_000), org.assertj.core.data.Offset.offset(1e-12));
    assertThat(s[5]).isCloseTo(1 / Math.log(20), org.assertj.core.data.Offset.offset(1e-12));
    assertThat(s[6]).isEqualTo(s[5]);
  }

  @Test
  void top_breaksTiesByLowerId() {
    double[] s = {1, 3, 3, 2, 3};
    assertThat(Epur.top(s, 4)).containsExactly(1, 2, 4, 3);
    assertThat(Epur.top(s, 0)).isEmpty();
    assertThat(Epur.top(s, 99)).hasSize(5);
  }

  @Test
  void reset_copiesOnlyTheChosenRows() {
    float[][] e = embeddings(2);
    float[] ft = e[0].clone();
    Epur.reset(ft, e[1], HIDDEN, new int[] {5, 7});
    for (int k = 0; k < VOCAB.length; k++) {
      for (int j = 0; j < HIDDEN; j++) {
        float expect = (k == 5 || k == 7) ? e[1][k * HIDDEN + j] : e[0][k * HIDDEN + j];
        assertThat(ft[k * HIDDEN + j]).isEqualTo(expect);
      }
    }
  }

  @Test
  void mismatchedVocabulary_isRejectedWithBothSizes() {
    assertThatThrownBy(() -> Epur.scores(new float[32], new float[32], HIDDEN, VOCAB, freq()))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("10").hasMessageContaining("2 rows");
  }

  @Test
  void wordFrequencyFile_isReadAndBadLinesNamed(@TempDir Path dir) throws Exception {
    Path ok = dir.resolve("ok.tsv");
    Files.writeString(ok, "word\tcount\nthe\t100\ncf\t15\n");
    WordFrequencies f = WordFrequencies.read(ok);
    assertThat(f.frequency("the")).isEqualTo(100);
    assertThat(f.size()).isEqualTo(2);
    Path bad = dir.resolve("bad.tsv");
    Files.writeString(bad, "word\tcount\nthe\tmany\n");
    assertThatThrownBy(() -> WordFrequencies.read(bad)).hasMessageContaining("bad.tsv:2");
  }

  @Test
  void sharedWordFrequencyFile_readsWhenPresent() {
    Path p = Path.of(System.getProperty("finemix.shared", "../shared"), "data/wordfreq/en.tsv");
    org.junit.jupiter.api.Assumptions.assumeTrue(Files.exists(p), "shared word frequencies absent at " + p);
    WordFrequencies f = WordFrequencies.read(p);
    assertThat(f.size()).isGreaterThan(70_000);
    assertThat(f.frequency("cf")).isEqualTo(15);
  }
}

package dev.finemix.purify.text;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DatasetTest {
  @TempDir Path dir;

  static Path shared(String rel) {
    Path p = Path.of(System.getProperty("finemix.shared", "../shared")).resolve(rel);
    assumeTrue(Files.exists(p), "shared data absent: " + p);
    return p;
  }

  @Test
  void read_sharedSst2Dev_hasAllRowsAndTwoLabels() {
    Dataset d = Dataset.read(shared("data/sst2/dev.tsv"));
    assertThat(d.size()).isEqualTo(872);
    assertThat(d.isPair()).isFalse();
    assertThat(d.numLabels()).isEqualTo(2);
    assertThat(d.name()).isEqualTo("sst2/dev.tsv");
  }

  @Test
  void read_sharedQnli_isPairs() {
    Dataset d = Dataset.read(shared("data/qnli/dev.tsv"));
    assertThat(d.isPair()).isTrue();
    assertThat(d.rows().get(0).textB()).isNotBlank();
  }

  @Test
  void read_malformedRow_namesFileAndLine() throws Exception {
    Path f = dir.resolve("bad.tsv");
    Files.writeString(f, "label\ttext\n1\tgood row\nx\tbad label\n");
    assertThatThrownBy(() -> Dataset.read(f)).isInstanceOf(DatasetException.class)
        .hasMessageContaining("bad.tsv:3").hasMessageContaining("not an integer");
    Files.writeString(f, "label\ttext\n1\tgood\n0\ttoo\tmany\n");
    assertThatThrownBy(() -> Dataset.read(f)).hasMessageContaining("bad.tsv:3").hasMessageContaining("expected 2");
    Files.writeString(f, "id,sentence\n");
    assertThatThrownBy(() -> Dataset.read(f)).hasMessageContaining("bad.tsv:1").hasMessageContaining("header");
    Files.write(f, new byte[] {'l', 'a', 'b', 'e', 'l', '\t', 't', '\n', '1', '\t', (byte) 0xC3, (byte) 0x28, '\n'});
    assertThatThrownBy(() -> Dataset.read(f)).hasMessageContaining("UTF-8");
  }

  @Test
  void write_thenRead_roundTrips_andQuotesAreOrdinary() {
    Dataset d = Dataset.of("t", false, List.of(new Example(1, "a \"quoted\" text", null), new Example(0, "b", null)));
    Path f = dir.resolve("t.tsv");
    d.write(f);
    assertThat(Dataset.read(f).rows()).isEqualTo(d.rows());
  }

  @Test
  void sample_isSeededAndExcludeRemovesOverlap() {
    List<Example> rows = new java.util.ArrayList<>();
    for (int i = 0; i < 100; i++) {
      rows.add(new Example(i % 2, "row " + i, null));
    }
    Dataset d = Dataset.of("t", false, rows);
    assertThat(d.sample(10, 7).rows()).isEqualTo(d.sample(10, 7).rows()).isNotEqualTo(d.sample(10, 8).rows());
    Dataset rest = d.exclude(d.sample(10, 7));
    assertThat(rest.size()).isEqualTo(90);
    assertThat(rest.rows()).doesNotContainAnyElementsOf(d.sample(10, 7).rows());
  }

  @Test
  void byLength_groupsSimilarLengthsAndCoversEveryRowOnce() {
    List<Encoding> enc = new java.util.ArrayList<>();
    Random r = new Random(1);
    for (int i = 0; i < 97; i++) {
      int n = 3 + r.nextInt(40);
      enc.add(new Encoding(new long[n], new long[n]));
    }
    List<int[]> b = Batches.byLength(enc, 8, true, new Random(3));
    assertThat(b).hasSize(13);
    assertThat(b.stream().flatMapToInt(java.util.Arrays::stream).sorted().toArray())
        .containsExactly(java.util.stream.IntStream.range(0, 97).toArray());
    assertThat(Batches.byLength(enc, 8, true, new Random(3)).get(0)).containsExactly(b.get(0));
  }
}

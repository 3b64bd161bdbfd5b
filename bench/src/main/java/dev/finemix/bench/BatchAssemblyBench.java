package dev.finemix.bench;

import dev.finemix.purify.text.Batch;
import dev.finemix.purify.text.Batches;
import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.text.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Setup;

/** Batch assembly: padding 32 encoded SST-2 rows into one {@link Batch}, and length bucketing of the dev set. */
public class BatchAssemblyBench extends MicrosBench {
  private List<Encoding> all;
  private List<Encoding> rows32;
  private Random rnd;

  @Setup
  public void setUp() {
    List<TextInput> in = new ArrayList<>();
    for (String s : BenchData.sentences()) {
      in.add(new TextInput(s, null));
    }
    try (Tokenizer t = Tokenizer.fromFile(BenchData.tokenizerJson(), 128)) {
      all = t.encodeAll(in);
    }
    rows32 = all.subList(0, Math.min(32, all.size()));
    rnd = new Random(7);
  }

  @Benchmark
  public Batch batchOf32() {
    return Batch.of(rows32);
  }

  @Benchmark
  public List<int[]> byLengthShuffled() {
    return Batches.byLength(all, 32, true, rnd);
  }

  @Benchmark
  public List<int[]> byLengthSorted() {
    return Batches.byLength(all, 32, false, rnd);
  }
}

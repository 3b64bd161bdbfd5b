package dev.finemix.bench;

import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.text.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/** MiniLM's WordPiece tokenizer (DJL HF tokenizers, native): one SST-2 sentence, and a batch of 32. */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class TokenizerBench {
  private Tokenizer tokenizer;
  private List<String> sentences;
  private List<TextInput> batch;
  private int next;

  @Setup
  public void setUp() {
    tokenizer = Tokenizer.fromFile(BenchData.tokenizerJson(), 128);
    sentences = BenchData.sentences();
    batch = new ArrayList<>();
    for (int i = 0; i < 32; i++) {
      batch.add(new TextInput(sentences.get(i % sentences.size()), null));
    }
  }

  @TearDown
  public void tearDown() {
    tokenizer.close();
  }

  @Benchmark
  public Encoding encodeOne() {
    String s = sentences.get(next++ % sentences.size());
    return tokenizer.encode(s, null);
  }

  @Benchmark
  public List<Encoding> encodeAll32() {
    return tokenizer.encodeAll(batch);
  }
}

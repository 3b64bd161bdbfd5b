package dev.finemix.bench;

import dev.finemix.purify.text.Encoding;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.text.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.TearDown;

/** MiniLM's WordPiece tokenizer (DJL HF tokenizers, native): one SST-2 sentence, and a batch of 32. */
public class TokenizerBench extends MicrosBench {
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

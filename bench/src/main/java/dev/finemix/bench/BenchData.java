package dev.finemix.bench;

import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.TensorMap;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.SplittableRandom;

/** Inputs shared by the benchmarks: SST-2 sentences, MiniLM's tokenizer file, MiniLM-shaped random weights. */
final class BenchData {
  private static final List<String> FALLBACK = List.of(
      "it 's a charming and often affecting journey .",
      "unflinchingly bleak and desperate",
      "allows us to hope that nolan is poised to embark a major career as a commercial yet inventive filmmaker .",
      "the acting , costumes , music , cinematography and sound are all astounding given the production 's austere"
          + " locales .",
      "it 's slow -- very , very slow .",
      "although laced with humor and a few fanciful touches , the film is a refreshingly serious look at young women"
          + " .");

  private BenchData() {
  }

  /** SST-2 dev sentences from {@code -Dfinemix.shared} (default ../shared) when present, else six built-in ones. */
  static List<String> sentences() {
    Path tsv = Path.of(System.getProperty("finemix.shared", "../shared"), "data", "sst2", "dev.tsv");
    if (Files.isRegularFile(tsv)) {
      return Dataset.read(tsv).rows().stream().map(Example::textA).toList();
    }
    return FALLBACK;
  }

  /** MiniLM's tokenizer.json, copied out of the class path (the langchain4j jar) into a temp file. */
  static Path tokenizerJson() {
    try (InputStream in = BenchData.class.getClassLoader().getResourceAsStream("all-minilm-l6-v2-tokenizer.json")) {
      if (in == null) {
        throw new IllegalStateException("all-minilm-l6-v2-tokenizer.json is not on the class path");
      }
      Path f = Files.createTempFile("finemix-bench-tokenizer-", ".json");
      Files.copy(in, f, StandardCopyOption.REPLACE_EXISTING);
      f.toFile().deleteOnExit();
      return f;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Every MiniLM tensor (22.7M floats; the head excluded) filled with N(0, 0.02)-like noise. */
  static TensorMap miniLmWeights(long seed) {
    SplittableRandom rnd = new SplittableRandom(seed);
    return BertTensors.initialised(BertConfig.miniLm(), false, name -> () -> (rnd.nextDouble() - 0.5) * 0.07);
  }
}

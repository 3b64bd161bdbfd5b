package dev.finemix.client.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * {@code --word-freq} (a picocli mixin) of the screening commands ({@code screen-eval}, {@code bench screen}): the
 * word counts that discount frequent words in E-PUR's token ranking, with the shared data's as the default.
 */
public final class WordFreqOption {
  @Option(names = "--word-freq", paramLabel = "FILE", description = "word<TAB>count TSV for the E-PUR discount"
      + " (default: <finemix.shared>/data/wordfreq/en.tsv when present).")
  Path wordFreq;

  /** {@code --word-freq}, else {@link Cli#sharedWordFrequencies()}; null when neither names a file. */
  public Path orShared() {
    return wordFreq != null ? wordFreq : Cli.sharedWordFrequencies();
  }
}

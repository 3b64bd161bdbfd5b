package dev.finemix.lab;

import dev.finemix.purify.train.TrainSettings;
import picocli.CommandLine.Option;

/**
 * How {@code finemix attack} and {@code finemix experiment} fine-tune the suspects (a picocli mixin): the trainer's
 * defaults unless these options say otherwise. {@code finemix train} keeps options of its own: its learning rate
 * defaults to 1.5e-4 (tuned for the clean model it writes, see the comment there) and its batch size is
 * {@code --batch}, a name its users already rely on.
 */
final class FineTuneOptions {
  @Option(names = "--epochs", defaultValue = "2", description = "Fine-tuning epochs (default: ${DEFAULT-VALUE}).")
  int epochs;

  @Option(names = "--batch-size", defaultValue = "32", description = "Batch size (default: ${DEFAULT-VALUE}).")
  int batchSize;

  @Option(names = "--lr", description = "Fine-tuning learning rate (default: the trainer's, 5e-5).")
  Double lr;

  @Option(names = "--max-length", defaultValue = "128", description = "Tokens per row (default: ${DEFAULT-VALUE}).")
  int maxLength;

  /** The trainer's defaults with these options and {@code seed}. */
  TrainSettings settings(long seed) {
    TrainSettings ts = TrainSettings.defaults().withEpochs(epochs).withBatchSize(batchSize).withSeed(seed);
    return lr == null ? ts : ts.withLr(lr);
  }
}

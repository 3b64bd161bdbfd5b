package dev.finemix.client.cli;

import picocli.CommandLine.Option;

/**
 * {@code --seed} (a picocli mixin) of the commands that draw random numbers; one seed feeds every random choice of
 * the command (samples, poisoning, training order, trigger positions, the defence), so a run repeats exactly.
 */
public final class SeedOption {
  @Option(names = "--seed", defaultValue = "42",
      description = "Seed of every random choice: samples, poisoning, training, trigger positions (default: ${DEFAULT-VALUE}).")
  long seed;

  /** The seed. */
  public long get() {
    return seed;
  }
}

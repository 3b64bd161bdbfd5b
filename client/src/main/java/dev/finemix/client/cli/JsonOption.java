package dev.finemix.client.cli;

import picocli.CommandLine.Option;

/** {@code --json} (a picocli mixin): the command prints its result as one JSON document instead of text. */
public final class JsonOption {
  @Option(names = "--json", description = "Print the result as JSON instead of text.")
  boolean json;

  /** Whether {@code --json} was given. */
  public boolean on() {
    return json;
  }
}

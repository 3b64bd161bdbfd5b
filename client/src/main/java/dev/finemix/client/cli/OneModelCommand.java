package dev.finemix.client.cli;

import picocli.CommandLine.Parameters;

/** A {@link ClientCommand} about one registered model, named by its first positional argument. */
abstract class OneModelCommand extends ClientCommand {
  @Parameters(index = "0", description = "Model name.")
  String name;
}

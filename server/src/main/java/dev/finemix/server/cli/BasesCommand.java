package dev.finemix.server.cli;

import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Pretrained;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * Lists the catalogue of clean bases shipped on the class path, from their configs alone (nothing is loaded):
 * the id to name as {@code base_model}, its shape, parameter count (Hugging Face's BertModel, pooler included),
 * licence and the Maven artifact it comes from. The first is the default.
 */
@Command(name = "bases", mixinStandardHelpOptions = true,
    description = "List the clean pre-trained bases shipped with finemix (the first is the default).")
public final class BasesCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    String row = "%-40s %-18s %6s %6s %11s %-10s %s%n";
    System.out.printf(row, "ID", "ALIAS", "LAYERS", "HIDDEN", "PARAMS", "LICENCE", "ARTIFACT");
    for (Pretrained.Base b : Pretrained.catalogue()) {
      long params = BertTensors.shapes(b.config(), false).values().stream()
          .mapToLong(s -> java.util.Arrays.stream(s).reduce(1, (x, y) -> x * y)).sum();
      System.out.printf(row, b.id(), b.alias(), b.config().numLayers(), b.config().hiddenSize(),
          String.format("%,d", params), b.licence(), b.artifact());
    }
    return 0;
  }
}

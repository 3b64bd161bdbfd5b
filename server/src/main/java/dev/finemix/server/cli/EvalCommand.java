package dev.finemix.server.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.model.Classifier;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.weights.Checkpoint;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code finemix eval}: clean accuracy of a checkpoint on a labelled TSV file. */
@Command(name = "eval", mixinStandardHelpOptions = true,
    description = "Clean accuracy (CACC) of a checkpoint folder on a labelled TSV file.")
final class EvalCommand implements Callable<Integer> {

  @Option(names = "--model", required = true, paramLabel = "DIR", description = "Checkpoint folder.")
  Path model;

  @Option(names = "--data", required = true, paramLabel = "FILE", description = "Labelled TSV file.")
  Path data;

  @Option(names = "--rows", paramLabel = "N", description = "Use only the first N rows.")
  Integer rows;

  @Option(names = "--device", defaultValue = "auto", description = "auto, cpu, gpu or gpu:N (default ${DEFAULT-VALUE}).")
  String device;

  @Option(names = "--json", description = "Print the result as JSON.")
  boolean json;

  @Override
  public Integer call() {
    Dataset d = Dataset.read(data);
    if (rows != null) {
      d = d.head(rows);
    }
    double cacc;
    try (Classifier c = Classifier.open(Checkpoint.read(model), Devices.choose(device))) {
      cacc = c.accuracy(d);
    }
    if (json) {
      ObjectNode n = new ObjectMapper().createObjectNode();
      n.put("cacc", cacc);
      n.put("rows", d.size());
      System.out.println(n);
    } else {
      System.out.printf(Locale.ROOT, "cacc %.4f on %d rows%n", cacc, d.size());
    }
    return 0;
  }
}

package dev.finemix.server.cli;

import dev.finemix.client.FinemixClient;
import dev.finemix.client.LoadDriver;
import dev.finemix.purify.text.Dataset;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "load", mixinStandardHelpOptions = true,
    description = "Drive Classify load against a running server and print throughput and latency.")
final class LoadCommand extends ClientCommand {
  @Option(names = {"-m", "--model"}, required = true, description = "Model name.")
  String model;

  @Option(names = "--texts", required = true, description = "TSV whose texts are sent (label<TAB>text).")
  Path texts;

  @Option(names = "--callers", defaultValue = "4", description = "Concurrent callers (default: ${DEFAULT-VALUE}).")
  int callers;

  @Option(names = "--batch", defaultValue = "1", description = "Texts per request (default: ${DEFAULT-VALUE}).")
  int batch;

  @Option(names = "--seconds", defaultValue = "20", description = "Duration (default: ${DEFAULT-VALUE}).")
  int seconds;

  @Override
  void run(FinemixClient client, PrintWriter out) throws InterruptedException {
    List<String> t = Dataset.read(texts).rows().stream().map(e -> e.textA()).toList();
    LoadDriver.Result r = new LoadDriver(client).run(model, t, callers, batch, Duration.ofSeconds(seconds));
    out.println(r.summary());
  }
}

package dev.finemix.client.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.FinemixClient;
import dev.finemix.client.PerfDriver;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code finemix load}: the load driver against a running server (perf_analyzer's place): Classify at each
 * concurrency level or request rate, throughput, latency percentiles and errors by status per level.
 * {@code finemix bench load} runs the same levels against a sidecar it starts in-process.
 */
@Command(name = "load", mixinStandardHelpOptions = true,
    description = "Drive Classify against a running server at fixed concurrency levels or request rates and print"
        + " throughput, latency percentiles and errors per level (cpu ms/row: this process, the client side).")
public final class LoadCommand extends ClientCommand {
  @Option(names = {"-m", "--model"}, required = true, description = "Model name.")
  String model;

  @Option(names = "--texts", required = true, paramLabel = "TSV",
      description = "Texts to send: a TSV with the header label<TAB>text; the text column is sent.")
  Path texts;

  @Mixin
  LoadLevels levels;

  @Mixin JsonOption json;

  @Override
  void run(FinemixClient client, PrintWriter out) throws InterruptedException {
    List<String> t = texts(texts);
    // one call first, so that a wrong target, model or token fails with its status, not as a table of errors
    client.classify(model, t.subList(0, 1));
    PerfDriver d = levels.driver(x -> client.classify(model, x), t);
    levels.warmUp(d);
    ObjectNode n = Cli.JSON.createObjectNode();
    n.put("target", connection.target);
    n.put("model", model);
    n.put("sentences", t.size());
    n.put("textsPerRequest", levels.textsPerRequest());
    levels.run(d, n.putArray("grpc"), LoadLevels.Observer.NONE);
    if (json.on()) {
      out.println(n.toPrettyString());
    } else {
      LoadLevels.printHeader(out);
      LoadLevels.printGrpc(n.get("grpc"), out);
    }
    for (JsonNode l : n.get("grpc")) {
      if (l.get("requests").asLong() == 0) {
        throw new IllegalStateException("no request succeeded at " + l.get("mode").asText() + " "
            + (l.has("targetRate") ? l.get("targetRate").asDouble() : l.get("concurrency").asInt()) + ": "
            + l.get("errorsByCode"));
      }
    }
  }

  /** The text column of a {@code label<TAB>text} file (the client reads it without purify's dataset reader). */
  static List<String> texts(Path tsv) {
    List<String> lines;
    try {
      lines = Files.readAllLines(tsv, StandardCharsets.UTF_8);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException("--texts " + tsv + ": no such file");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + tsv, e);
    }
    if (lines.isEmpty() || !lines.get(0).startsWith("label\t")) {
      throw new IllegalArgumentException("--texts " + tsv + ": the first line must be the header label<TAB>text");
    }
    List<String> out = new ArrayList<>();
    for (int i = 1; i < lines.size(); i++) {
      String[] f = lines.get(i).split("\t", -1);
      if (f.length >= 2 && !f[1].isBlank()) {
        out.add(f[1]);
      }
    }
    if (out.isEmpty()) {
      throw new IllegalArgumentException("--texts " + tsv + ": no rows with a text after the header");
    }
    return out;
  }
}

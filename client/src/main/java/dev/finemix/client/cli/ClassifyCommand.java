package dev.finemix.client.cli;

import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ClassifyRequest;
import dev.finemix.proto.v1.ClassifyResponse;
import dev.finemix.proto.v1.Prediction;
import dev.finemix.proto.v1.ScreenAction;
import dev.finemix.proto.v1.TextPair;
import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "classify", mixinStandardHelpOptions = true, description = "Classify texts with a served model.")
public final class ClassifyCommand extends ClientCommand {
  @Option(names = {"-m", "--model"}, required = true, description = "Model name.")
  String model;

  @Option(names = "--pair", description = "Sentence-pair input: every two texts form one pair (text_a text_b).")
  boolean pair;

  @Parameters(arity = "1..*", description = "Texts to classify.")
  List<String> texts;

  @Override
  void run(FinemixClient client, PrintWriter out) {
    ClassifyRequest.Builder r = ClassifyRequest.newBuilder().setModel(model);
    if (pair) {
      if (texts.size() % 2 != 0) {
        throw new IllegalArgumentException("--pair needs an even number of texts, got " + texts.size());
      }
      for (int i = 0; i < texts.size(); i += 2) {
        r.addPairs(TextPair.newBuilder().setTextA(texts.get(i)).setTextB(texts.get(i + 1)));
      }
    } else {
      r.addAllTexts(texts);
    }
    ClassifyResponse resp = client.classify(r.build());
    for (int i = 0; i < resp.getPredictionsCount(); i++) {
      Prediction p = resp.getPredictions(i);
      String scores = p.getScoresList().stream().map(s -> String.format(Locale.ROOT, "%.4f", s))
          .collect(Collectors.joining(" "));
      String flag = !p.getSuspicion().getFlagged() ? "" : String.format(Locale.ROOT, "\tFLAGGED %s %.4g > %.4g%s",
          p.getSuspicion().getTokensList(), p.getSuspicion().getScore(), p.getSuspicion().getThreshold(),
          p.getSuspicion().getAction() == ScreenAction.STRIPPED ? " (stripped)" : "");
      out.printf("%s\t%s\t[%s]%s%n", p.getLabelName(), pair ? texts.get(2 * i) + " | " + texts.get(2 * i + 1)
          : texts.get(i), scores, flag);
    }
    out.printf("# weights %s%n", resp.getWeightsSha256());
  }
}

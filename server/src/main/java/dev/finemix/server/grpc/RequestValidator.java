package dev.finemix.server.grpc;

import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.errors.ServiceException.FieldViolation;
import dev.finemix.server.loading.TextRow;
import java.util.ArrayList;
import java.util.List;

/** Checks classify inputs against the configured limits; every violation names its field. */
final class RequestValidator {
  private final ServerConfig.Limits limits;

  RequestValidator(ServerConfig.Limits limits) {
    this.limits = limits;
  }

  void requireModel(String field, String model) {
    if (model == null || model.isBlank()) {
      throw ServiceException.badRequest(field, "must name a registered model");
    }
  }

  /** Rows of a request with texts xor pairs. */
  List<TextRow> rows(List<String> texts, List<dev.finemix.proto.v1.TextPair> pairs) {
    if (texts.isEmpty() == pairs.isEmpty()) {
      throw ServiceException.badRequest(texts.isEmpty() ? "texts" : "pairs", texts.isEmpty()
          ? "set texts (single-text models) or pairs (sentence-pair models); both are empty"
          : "set texts or pairs, not both");
    }
    int n = Math.max(texts.size(), pairs.size());
    String field = texts.isEmpty() ? "pairs" : "texts";
    if (n > limits.maxTextsPerRequest()) {
      throw ServiceException.badRequest(field, "has " + n + " entries; at most " + limits.maxTextsPerRequest()
          + " per request");
    }
    List<FieldViolation> bad = new ArrayList<>();
    List<TextRow> rows = new ArrayList<>(n);
    for (int i = 0; i < texts.size(); i++) {
      check(bad, "texts[" + i + "]", texts.get(i));
      rows.add(TextRow.single(texts.get(i)));
    }
    for (int i = 0; i < pairs.size(); i++) {
      check(bad, "pairs[" + i + "].text_a", pairs.get(i).getTextA());
      check(bad, "pairs[" + i + "].text_b", pairs.get(i).getTextB());
      rows.add(new TextRow(pairs.get(i).getTextA(), pairs.get(i).getTextB()));
    }
    if (!bad.isEmpty()) {
      throw ServiceException.badRequest(bad);
    }
    return rows;
  }

  private void check(List<FieldViolation> bad, String field, String text) {
    if (text.length() > limits.maxCharsPerText()) {
      bad.add(new FieldViolation(field, "has " + text.length() + " characters; at most "
          + limits.maxCharsPerText()));
    }
  }
}

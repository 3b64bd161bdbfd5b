package dev.finemix.server.grpc;

import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.errors.ServiceException.FieldViolation;
import dev.finemix.server.loading.TextRow;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks inference inputs against the configured limits; every violation names its field. Classify and the KServe
 * v2 path ({@link InferInputs}) share the limit checks and differ only in the field names.
 */
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

  /** Rows of a Classify request with texts xor pairs. */
  List<TextRow> rows(List<String> texts, List<dev.finemix.proto.v1.TextPair> pairs) {
    if (texts.isEmpty() == pairs.isEmpty()) {
      throw ServiceException.badRequest(texts.isEmpty() ? "texts" : "pairs", texts.isEmpty()
          ? "set texts (single-text models) or pairs (sentence-pair models); both are empty"
          : "set texts or pairs, not both");
    }
    requireCount(texts.isEmpty() ? "pairs" : "texts", Math.max(texts.size(), pairs.size()), "entries");
    List<FieldViolation> bad = new ArrayList<>();
    List<TextRow> rows = new ArrayList<>();
    for (int i = 0; i < texts.size(); i++) {
      checkText(bad, "texts[" + i + "]", texts.get(i));
      rows.add(TextRow.single(texts.get(i)));
    }
    for (int i = 0; i < pairs.size(); i++) {
      checkText(bad, "pairs[" + i + "].text_a", pairs.get(i).getTextA());
      checkText(bad, "pairs[" + i + "].text_b", pairs.get(i).getTextB());
      rows.add(new TextRow(pairs.get(i).getTextA(), pairs.get(i).getTextB()));
    }
    if (!bad.isEmpty()) {
      throw ServiceException.badRequest(bad);
    }
    return rows;
  }

  /** INVALID_ARGUMENT on {@code field} when a request holds more than the rows allowed per request. */
  void requireCount(String field, long n, String what) {
    if (n > limits.maxTextsPerRequest()) {
      throw ServiceException.badRequest(field, "has " + n + " " + what + "; at most " + limits.maxTextsPerRequest()
          + " per request");
    }
  }

  /** Adds a violation on {@code field} when {@code text} is over the per-text limit. */
  void checkText(List<FieldViolation> bad, String field, String text) {
    if (text.length() > limits.maxCharsPerText()) {
      bad.add(new FieldViolation(field, "has " + text.length() + " characters; at most "
          + limits.maxCharsPerText()));
    }
  }
}

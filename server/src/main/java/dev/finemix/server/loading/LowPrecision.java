package dev.finemix.server.loading;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.onnx.Agreement;
import dev.finemix.purify.onnx.Precision;
import dev.finemix.purify.text.Example;
import dev.finemix.server.cache.PurifiedCache;
import dev.finemix.server.cache.Sha256;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * A purified model at a precision below fp32: the artefact comes from the purified-weight cache like the weights
 * (its key: the purified entry's key and the precision), or is built by {@link ModelBackend#lowPrecision} and stored,
 * with its agreement with fp32 in the entry's manifest (valid as long as the key: the clean rows are in it).
 */
final class LowPrecision {
  /** Rows the agreement is measured on: the clean subset, then unlabelled rows, at most this many. */
  static final int MAX_ROWS = 1000;
  private static final ObjectMapper JSON = new ObjectMapper();

  private LowPrecision() {}

  /** The artefact's folder (a checkpoint with its graph) and its agreement with fp32. */
  record Artefact(Path dir, Agreement agreement) {}

  /** The cache key of the artefact at {@code p} of the purified entry {@code purifiedKey}. */
  static String key(String purifiedKey, Precision p) {
    return Sha256.ofLines("finemix-precision-1", purifiedKey, p.id());
  }

  /** The artefact of {@code purified} at {@code p}, from the cache or built now; the caller checks its agreement. */
  static Artefact obtain(PurifiedCache cache, ModelBackend backend, Loader.Purified purified,
      Precision p, LoadInputs in, boolean rebuild, Progress.Sink sink) throws Exception {
    sink.accept(Progress.of("precision", 91, "building the " + p + " model and checking it against fp32"));
    PurifiedCache.Obtained got = cache.obtain(key(purified.key(), p), rebuild,
        work -> new PurifiedCache.Built(toJson(backend.lowPrecision(purified.dir(), work, p, rows(in))), List.of()),
        waiting -> sink.accept(Progress.of("waiting", 91, waiting)));
    return new Artefact(got.entry().dir(), fromJson(got.entry().report()));
  }

  static List<TextRow> rows(LoadInputs in) {
    List<TextRow> rows = new ArrayList<>(in.cleanRows(MAX_ROWS));
    if (in.unlabelled() != null) {
      for (Example e : in.unlabelled().content().rows()) {
        if (rows.size() >= MAX_ROWS) {
          break;
        }
        rows.add(new TextRow(e.textA(), e.textB()));
      }
    }
    return rows;
  }

  static ObjectNode toJson(Agreement a) {
    ObjectNode n = JSON.createObjectNode();
    n.put("precision", a.precision().id());
    n.put("rows", a.rows());
    n.put("agreement", a.agreement());
    n.put("max_prob_diff", a.maxProbDiff());
    return n;
  }

  static Agreement fromJson(JsonNode n) {
    return new Agreement(Precision.parse(n.path("precision").asText()), n.path("rows").asInt(),
        n.path("agreement").asDouble(), n.path("max_prob_diff").asDouble());
  }
}

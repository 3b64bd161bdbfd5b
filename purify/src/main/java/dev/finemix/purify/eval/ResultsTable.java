package dev.finemix.purify.eval;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** Writes the experiment table as {@code results.md} (for people) and {@code results.json} (for tools). */
final class ResultsTable {

  private ResultsTable() {}

  static String markdown(List<ExperimentRow> rows, ObjectNode settings) {
    StringBuilder s = new StringBuilder();
    s.append("# Backdoor attacks: clean reference vs backdoored model\n\n");
    s.append("Percentages on the dev rows. CACC: clean accuracy. ASR: non-target rows classified as the target once ")
        .append("the trigger is inserted. flip_base: the same rows classified as the target without the trigger. ")
        .append("ASR_cond: among non-target rows the model gets right without the trigger, the share the trigger flips. ")
        .append("\"clean\" columns: the clean reference model (same rows, no poison) under the same trigger.\n\n");
    s.append("Settings: `").append(settings.toString()).append("`\n\n");
    s.append("| task | attack | target | poisoned rows | dev rows | CACC clean | CACC | ASR clean | ASR | flip_base | ASR_cond |\n");
    s.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (ExperimentRow r : rows) {
      EvalResult c = r.clean();
      EvalResult b = r.backdoored();
      s.append("| ").append(r.task()).append(" | ").append(r.attack()).append(" | ").append(b.target())
          .append(" | ").append(r.poisonedRows()).append(" | ").append(b.rows())
          .append(" | ").append(pct(c.cacc())).append(" | ").append(pct(b.cacc()))
          .append(" | ").append(pct(c.asr())).append(" | ").append(pct(b.asr()))
          .append(" | ").append(pct(b.flipBase())).append(" | ").append(pct(b.asrCond())).append(" |\n");
    }
    s.append("\nModels:\n\n");
    for (ExperimentRow r : rows) {
      s.append("- ").append(r.task()).append(" / ").append(r.attack()).append(": `").append(r.model()).append("`\n");
    }
    return s.toString();
  }

  static ObjectNode json(List<ExperimentRow> rows, ObjectNode settings) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.set("settings", settings);
    ArrayNode a = o.putArray("results");
    rows.forEach(r -> a.add(r.toJson()));
    return o;
  }

  static void write(Path dir, List<ExperimentRow> rows, ObjectNode settings) {
    ExperimentCache.writeAtomic(dir.resolve("results.md"), markdown(rows, settings));
    ExperimentCache.writeAtomic(dir.resolve("results.json"), json(rows, settings));
  }

  static String pct(double v) {
    return Double.isNaN(v) ? "–" : String.format(Locale.ROOT, "%.1f", 100 * v);
  }
}

package dev.finemix.server.loading;

import dev.finemix.purify.text.Dataset;
import java.nio.file.Path;
import java.util.List;

/** The first rows of a clean TSV (read with purify's one TSV reader), for input-kind detection and probes. */
public record CleanSubset(boolean pair, List<TextRow> rows) {
  public CleanSubset {
    rows = List.copyOf(rows);
  }

  /** Reads the file and keeps at most {@code limit} rows; malformed files throw naming file and line. */
  public static CleanSubset read(Path tsv, int limit) {
    Dataset d = Dataset.read(tsv);
    return new CleanSubset(d.isPair(), d.head(Math.min(limit, d.size())).rows().stream()
        .map(e -> new TextRow(e.textA(), e.textB())).toList());
  }
}

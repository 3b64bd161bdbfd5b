package dev.finemix.server.loading;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The first rows of a clean TSV ({@code label<TAB>text} or {@code label<TAB>text_a<TAB>text_b}, one header line,
 * no quoting), for input-kind detection and probes. Purification itself reads the file through purify.
 */
public record CleanSubset(boolean pair, List<TextRow> rows) {
  public CleanSubset {
    rows = List.copyOf(rows);
  }

  /** Reads the header and at most {@code limit} rows. */
  public static CleanSubset read(Path tsv, int limit) {
    try (BufferedReader in = Files.newBufferedReader(tsv, StandardCharsets.UTF_8)) {
      String header = in.readLine();
      if (header == null) {
        throw new IllegalArgumentException(tsv.getFileName() + " is empty (expected a header line)");
      }
      int columns = header.split("\t", -1).length;
      if (columns != 2 && columns != 3) {
        throw new IllegalArgumentException(tsv.getFileName() + ": header must have 2 (label, text) or 3"
            + " (label, text_a, text_b) TAB-separated columns, got " + columns);
      }
      List<TextRow> rows = new ArrayList<>();
      String line;
      int lineNo = 1;
      while (rows.size() < limit && (line = in.readLine()) != null) {
        lineNo++;
        if (line.isEmpty()) {
          continue;
        }
        String[] f = line.split("\t", -1);
        if (f.length != columns) {
          throw new IllegalArgumentException(tsv.getFileName() + ":" + lineNo + " has " + f.length
              + " columns, the header has " + columns);
        }
        rows.add(new TextRow(f[1], columns == 3 ? f[2] : null));
      }
      return new CleanSubset(columns == 3, rows);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + tsv, e);
    }
  }
}

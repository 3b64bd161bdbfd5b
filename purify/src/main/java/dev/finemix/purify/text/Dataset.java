package dev.finemix.purify.text;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * A labelled text dataset from a TSV file: a header line, then {@code label<TAB>text} (single sentences) or
 * {@code label<TAB>text_a<TAB>text_b} (pairs). Fields are split on TAB, with no quoting. Labels are integers 0..K-1.
 */
public final class Dataset {
  private final String name;
  private final boolean pair;
  private final List<Example> rows;

  private Dataset(String name, boolean pair, List<Example> rows) {
    this.name = name;
    this.pair = pair;
    this.rows = List.copyOf(rows);
  }

  public static Dataset of(String name, boolean pair, List<Example> rows) {
    for (Example e : rows) {
      if (e.isPair() != pair) {
        throw new IllegalArgumentException(name + ": mixes single sentences and pairs");
      }
      if (e.label() < 0) {
        throw new IllegalArgumentException(name + ": negative label " + e.label());
      }
    }
    return new Dataset(name, pair, rows);
  }

  /** Reads a TSV file; a malformed row is a {@link DatasetException} naming file and line. */
  public static Dataset read(Path tsv) {
    try {
      return parse(tsv, Files.newInputStream(tsv));
    } catch (java.nio.file.NoSuchFileException e) {
      throw new DatasetException(tsv + ": no such file");
    } catch (IOException e) {
      throw new DatasetException(tsv + ": cannot read: " + e.getMessage(), e);
    }
  }

  /**
   * Parses the bytes of the TSV file {@code tsv} (named in errors and in {@link #name()}), for a caller that read
   * the file once to hash it too; a malformed row is a {@link DatasetException} naming file and line.
   */
  public static Dataset read(Path tsv, byte[] content) {
    try {
      return parse(tsv, new java.io.ByteArrayInputStream(content));
    } catch (IOException e) {
      throw new DatasetException(tsv + ": cannot read: " + e.getMessage(), e);
    }
  }

  private static Dataset parse(Path tsv, java.io.InputStream in) throws IOException {
    var decoder = StandardCharsets.UTF_8.newDecoder()
        .onMalformedInput(CodingErrorAction.REPORT)
        .onUnmappableCharacter(CodingErrorAction.REPORT);
    List<Example> rows = new ArrayList<>();
    boolean pair;
    int lineNo = 0;
    try (BufferedReader r = new BufferedReader(new java.io.InputStreamReader(in, decoder))) {
      String header = r.readLine();
      lineNo = 1;
      if (header == null) {
        throw new DatasetException(tsv + ": empty file (expected a header line 'label<TAB>text')");
      }
      String[] h = header.split("\t", -1);
      if (h.length == 2 && h[0].trim().equals("label")) {
        pair = false;
      } else if (h.length == 3 && h[0].trim().equals("label")) {
        pair = true;
      } else {
        throw new DatasetException(tsv + ":1: header must be 'label<TAB>text' or 'label<TAB>text_a<TAB>text_b', got '"
            + abbreviate(header) + "'");
      }
      String line;
      while ((line = r.readLine()) != null) {
        lineNo++;
        if (line.isEmpty()) {
          continue;
        }
        String[] f = line.split("\t", -1);
        if (f.length != h.length) {
          throw new DatasetException(tsv + ":" + lineNo + ": expected " + h.length + " TAB-separated fields, got "
              + f.length + " in '" + abbreviate(line) + "'");
        }
        int label;
        try {
          label = Integer.parseInt(f[0].trim());
        } catch (NumberFormatException e) {
          throw new DatasetException(tsv + ":" + lineNo + ": label '" + abbreviate(f[0]) + "' is not an integer");
        }
        if (label < 0 || label > 1000) {
          throw new DatasetException(tsv + ":" + lineNo + ": label " + label + " out of range 0..1000");
        }
        if (f[1].isBlank() || (pair && f[2].isBlank())) {
          throw new DatasetException(tsv + ":" + lineNo + ": empty text");
        }
        rows.add(new Example(label, f[1], pair ? f[2] : null));
      }
    } catch (CharacterCodingException e) {
      throw new DatasetException(tsv + ":" + (lineNo + 1) + ": not valid UTF-8");
    }
    if (rows.isEmpty()) {
      throw new DatasetException(tsv + ": no data rows after the header");
    }
    String n = tsv.getParent() == null ? tsv.getFileName().toString()
        : tsv.getParent().getFileName() + "/" + tsv.getFileName();
    return new Dataset(n, pair, rows);
  }

  public String name() {
    return name;
  }

  public boolean isPair() {
    return pair;
  }

  public List<Example> rows() {
    return rows;
  }

  public int size() {
    return rows.size();
  }

  /** Number of classes: the largest label + 1 (at least 2). */
  public int numLabels() {
    int max = 1;
    for (Example e : rows) {
      max = Math.max(max, e.label());
    }
    return max + 1;
  }

  /** The first n rows (all when n >= size). */
  public Dataset head(int n) {
    return new Dataset(name, pair, rows.subList(0, Math.min(n, rows.size())));
  }

  /** n rows drawn without replacement with a seeded shuffle (all rows, shuffled, when n >= size). */
  public Dataset sample(int n, long seed) {
    List<Example> copy = new ArrayList<>(rows);
    Collections.shuffle(copy, new Random(seed));
    return new Dataset(name, pair, copy.subList(0, Math.min(n, copy.size())));
  }

  /** The rows whose text does not occur in {@code other} (to keep clean subsets disjoint from training rows). */
  public Dataset exclude(Dataset other) {
    Set<String> seen = new HashSet<>();
    for (Example e : other.rows) {
      seen.add(key(e));
    }
    List<Example> kept = new ArrayList<>();
    for (Example e : rows) {
      if (!seen.contains(key(e))) {
        kept.add(e);
      }
    }
    return new Dataset(name, pair, kept);
  }

  /** Rows [from, to). */
  public Dataset slice(int from, int to) {
    return new Dataset(name, pair, rows.subList(Math.max(0, from), Math.min(to, rows.size())));
  }

  public Dataset withRows(List<Example> newRows) {
    return of(name, pair, newRows);
  }

  /** Writes the TSV atomically (temp file + rename). */
  public void write(Path tsv) {
    try {
      Path dir = tsv.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, "." + tsv.getFileName(), ".tmp");
      try (BufferedWriter w = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        w.write(pair ? "label\ttext_a\ttext_b\n" : "label\ttext\n");
        for (Example e : rows) {
          w.write(e.label() + "\t" + clean(e.textA()) + (pair ? "\t" + clean(e.textB()) : "") + "\n");
        }
      }
      Files.move(tmp, tsv, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      throw new DatasetException(tsv + ": cannot write: " + e.getMessage(), e);
    }
  }

  private static String clean(String s) {
    return s.replace('\t', ' ').replace('\n', ' ').replace('\r', ' ');
  }

  private static String key(Example e) {
    return e.textA() + "\u0000" + (e.textB() == null ? "" : e.textB());
  }

  private static String abbreviate(String s) {
    return s.length() <= 60 ? s : s.substring(0, 57) + "...";
  }
}

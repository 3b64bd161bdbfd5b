package dev.finemix.purify.defence;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Word counts for E-PUR, read from a TSV with header {@code word<TAB>count} (the format of
 * {@code shared/data/wordfreq/en.tsv}). Lookup is exact (the MiniLM vocabulary is lower case, as is the file).
 */
public final class WordFrequencies {
  private final Map<String, Long> counts;
  private final String source;

  private WordFrequencies(Map<String, Long> counts, String source) {
    this.counts = counts;
    this.source = source;
  }

  /** No counts at all: every token gets frequency 0, so E-PUR ranks by embedding shift alone. */
  public static WordFrequencies none() {
    return new WordFrequencies(Map.of(), "none");
  }

  public static WordFrequencies of(Map<String, Long> counts) {
    return new WordFrequencies(Map.copyOf(counts), "in-memory");
  }

  /** Reads {@code word<TAB>count}; a malformed line is an {@link IllegalArgumentException} naming file and line. */
  public static WordFrequencies read(Path tsv) {
    try {
      return parse(tsv, Files.newBufferedReader(tsv, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read word frequencies " + tsv, e);
    }
  }

  /** Parses the bytes of the file {@code tsv} (named in errors), for a caller that read it once to hash it too. */
  public static WordFrequencies read(Path tsv, byte[] content) {
    try {
      return parse(tsv, new BufferedReader(new java.io.InputStreamReader(new java.io.ByteArrayInputStream(content),
          StandardCharsets.UTF_8)));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read word frequencies " + tsv, e);
    }
  }

  private static WordFrequencies parse(Path tsv, BufferedReader reader) throws IOException {
    Map<String, Long> m = new HashMap<>(1 << 17);
    try (BufferedReader r = reader) {
      String header = r.readLine();
      if (header == null || !header.startsWith("word\tcount")) {
        throw new IllegalArgumentException(tsv + ":1: expected header 'word<TAB>count', got " + header);
      }
      String line;
      int no = 1;
      while ((line = r.readLine()) != null) {
        no++;
        if (line.isEmpty()) {
          continue;
        }
        int tab = line.indexOf('\t');
        if (tab <= 0) {
          throw new IllegalArgumentException(tsv + ":" + no + ": expected word<TAB>count, got '" + line + "'");
        }
        long c;
        try {
          c = Long.parseLong(line.substring(tab + 1).trim());
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException(tsv + ":" + no + ": count is not an integer: '" + line + "'");
        }
        if (c < 0) {
          throw new IllegalArgumentException(tsv + ":" + no + ": negative count " + c);
        }
        m.merge(line.substring(0, tab), c, Long::sum);
      }
    }
    return new WordFrequencies(m, tsv.toString());
  }

  /**
   * Frequency of a vocabulary token: WordPiece continuation pieces ({@code ##x}), special tokens
   * ({@code [CLS]}, {@code [unused3]}, ...) and words absent from the file get 0.
   */
  public long frequency(String token) {
    if (token == null || token.isEmpty() || token.startsWith("##") || isSpecial(token)) {
      return 0;
    }
    return counts.getOrDefault(token, 0L);
  }

  static boolean isSpecial(String token) {
    return token.length() >= 3 && token.charAt(0) == '[' && token.charAt(token.length() - 1) == ']';
  }

  /** The words counted {@code min..max} times (both inclusive), sorted: the mid-frequency trigger picker's pool. */
  public java.util.List<String> wordsBetween(long min, long max) {
    return counts.entrySet().stream().filter(e -> e.getValue() >= min && e.getValue() <= max)
        .map(Map.Entry::getKey).sorted().toList();
  }

  /**
   * The count of the {@code rank}-th most counted word (1-based; 0 when the file has fewer words): e.g. the bar
   * above which a word is a function word that most texts hold.
   */
  public long countAtRank(int rank) {
    if (rank < 1) {
      throw new IllegalArgumentException("rank must be >= 1, got " + rank);
    }
    return counts.values().stream().sorted(java.util.Comparator.reverseOrder()).skip(rank - 1L).findFirst()
        .orElse(0L);
  }

  public int size() {
    return counts.size();
  }

  public String source() {
    return source;
  }
}

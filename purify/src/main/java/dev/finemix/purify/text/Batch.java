package dev.finemix.purify.text;

import java.util.List;

/**
 * Encodings padded to the batch's longest row, row-major [rows, seqLen]: token ids (pad 0), token types and the
 * attention mask (1 real token, 0 padding).
 */
public record Batch(long[] ids, long[] typeIds, long[] mask, int rows, int seqLen) {
  public Batch {
    int n = rows * seqLen;
    if (ids.length != n || typeIds.length != n || mask.length != n) {
      throw new IllegalArgumentException("batch arrays must hold rows*seqLen = " + n + " values");
    }
  }

  public static Batch of(List<Encoding> enc) {
    if (enc.isEmpty()) {
      throw new IllegalArgumentException("a batch needs at least one row");
    }
    int len = 0;
    for (Encoding e : enc) {
      len = Math.max(len, e.length());
    }
    int rows = enc.size();
    long[] ids = new long[rows * len];
    long[] types = new long[rows * len];
    long[] mask = new long[rows * len];
    for (int r = 0; r < rows; r++) {
      Encoding e = enc.get(r);
      System.arraycopy(e.ids(), 0, ids, r * len, e.length());
      System.arraycopy(e.typeIds(), 0, types, r * len, e.length());
      java.util.Arrays.fill(mask, r * len, r * len + e.length(), 1L);
    }
    return new Batch(ids, types, mask, rows, len);
  }

  /** Number of real (non-padding) tokens. */
  public long tokens() {
    long n = 0;
    for (long m : mask) {
      n += m;
    }
    return n;
  }
}

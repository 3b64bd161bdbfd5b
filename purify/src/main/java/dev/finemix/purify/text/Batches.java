package dev.finemix.purify.text;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;

/** Groups row indices into batches of similar length, so dynamic padding wastes little. */
public final class Batches {
  private static final int POOL = 50;

  private Batches() {}

  /**
   * Index groups of at most {@code batchSize}. Without shuffle: sorted by length. With shuffle: rows are shuffled,
   * sorted by length inside pools of 50 batches, cut into batches, and the batches shuffled (seeded by rnd).
   */
  public static List<int[]> byLength(List<Encoding> enc, int batchSize, boolean shuffle, Random rnd) {
    if (batchSize <= 0) {
      throw new IllegalArgumentException("batchSize must be > 0, got " + batchSize);
    }
    List<Integer> idx = new ArrayList<>(enc.size());
    for (int i = 0; i < enc.size(); i++) {
      idx.add(i);
    }
    Comparator<Integer> byLen = Comparator.comparingInt(i -> enc.get(i).length());
    List<int[]> out = new ArrayList<>();
    if (!shuffle) {
      idx.sort(byLen);
      cut(idx, batchSize, out);
      return out;
    }
    Collections.shuffle(idx, rnd);
    int pool = POOL * batchSize;
    for (int p = 0; p < idx.size(); p += pool) {
      List<Integer> part = new ArrayList<>(idx.subList(p, Math.min(idx.size(), p + pool)));
      part.sort(byLen);
      cut(part, batchSize, out);
    }
    Collections.shuffle(out, rnd);
    return out;
  }

  private static void cut(List<Integer> idx, int batchSize, List<int[]> out) {
    for (int i = 0; i < idx.size(); i += batchSize) {
      List<Integer> b = idx.subList(i, Math.min(idx.size(), i + batchSize));
      out.add(b.stream().mapToInt(Integer::intValue).toArray());
    }
  }
}

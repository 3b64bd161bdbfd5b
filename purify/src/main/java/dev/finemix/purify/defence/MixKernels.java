package dev.finemix.purify.defence;

import java.util.SplittableRandom;

/**
 * Per-tensor mixing kernels on flat float arrays: {@code out = m * ft + (1 - m) * pre} with a 0/1 mask m.
 * {@code out} may be {@code ft} or {@code pre} itself (each entry is read before it is written).
 */
final class MixKernels {
  private static final double TWO_32 = 4294967296.0;

  private MixKernels() {}

  /**
   * Random mixing: each entry keeps its fine-tuned value with probability {@code rho}, independently, from a
   * {@link SplittableRandom} seeded with {@code seed}. One 64-bit draw decides two entries (two 32-bit uniforms
   * compared with {@code floor(rho * 2^32)}). Returns the number of fine-tuned entries kept.
   */
  static long random(float[] ft, float[] pre, float[] out, double rho, long seed) {
    check(ft, pre, out, rho);
    int n = ft.length;
    if (rho >= 1.0) {
      if (out != ft) System.arraycopy(ft, 0, out, 0, n);
      return n;
    }
    if (rho <= 0.0) {
      if (out != pre) System.arraycopy(pre, 0, out, 0, n);
      return 0;
    }
    long threshold = (long) Math.floor(rho * TWO_32); // keep when u32 < threshold
    SplittableRandom rnd = new SplittableRandom(seed);
    long kept = 0;
    int i = 0;
    for (; i + 1 < n; i += 2) {
      long bits = rnd.nextLong();
      boolean k0 = (bits >>> 32) < threshold;
      boolean k1 = (bits & 0xFFFFFFFFL) < threshold;
      out[i] = k0 ? ft[i] : pre[i];
      out[i + 1] = k1 ? ft[i + 1] : pre[i + 1];
      kept += (k0 ? 1 : 0) + (k1 ? 1 : 0);
    }
    if (i < n) {
      boolean k0 = (rnd.nextLong() >>> 32) < threshold;
      out[i] = k0 ? ft[i] : pre[i];
      kept += k0 ? 1 : 0;
    }
    return kept;
  }

  /** Number of entries {@code sel} keeps: {@code round(rho * n)}. */
  static int selCount(int n, double rho) {
    return (int) Math.min(n, Math.round(rho * n));
  }

  /**
   * Selective mixing: keeps exactly {@code k = round(rho * n)} fine-tuned entries, those with the largest
   * {@code |ft - pre|} (the float32 difference). Ties at the threshold value go to the lower flat index. The rest
   * take the pre-trained value. The threshold is found by a two-pass radix select on the bits of
   * {@code |ft - pre|} (non-negative floats order like their bit patterns), so no sort and no n-sized temporary.
   * Returns the number kept (always k).
   */
  static long sel(float[] ft, float[] pre, float[] out, double rho) {
    check(ft, pre, out, rho);
    int n = ft.length;
    int k = selCount(n, rho);
    if (k == n) {
      if (out != ft) System.arraycopy(ft, 0, out, 0, n);
      return n;
    }
    if (k == 0) {
      if (out != pre) System.arraycopy(pre, 0, out, 0, n);
      return 0;
    }
    int threshold = thresholdBits(ft, pre, k);
    // entries strictly above the threshold are all kept; fill the rest from entries equal to it, lowest index first
    long above = 0;
    for (int i = 0; i < n; i++) {
      if (absDiffBits(ft[i], pre[i]) > threshold) above++;
    }
    long equalToKeep = k - above;
    for (int i = 0; i < n; i++) {
      int b = absDiffBits(ft[i], pre[i]);
      boolean keep;
      if (b > threshold) {
        keep = true;
      } else if (b == threshold && equalToKeep > 0) {
        keep = true;
        equalToKeep--;
      } else {
        keep = false;
      }
      out[i] = keep ? ft[i] : pre[i];
    }
    return k;
  }

  /** Bits of the k-th largest |ft - pre| (1-based k). */
  static int thresholdBits(float[] ft, float[] pre, int k) {
    int n = ft.length;
    int[] hist = new int[1 << 16];
    for (int i = 0; i < n; i++) {
      hist[absDiffBits(ft[i], pre[i]) >>> 16]++;
    }
    long acc = 0;
    int hi = (1 << 16) - 1;
    for (; hi >= 0; hi--) {
      if (acc + hist[hi] >= k) break;
      acc += hist[hi];
    }
    java.util.Arrays.fill(hist, 0);
    for (int i = 0; i < n; i++) {
      int b = absDiffBits(ft[i], pre[i]);
      if ((b >>> 16) == hi) hist[b & 0xFFFF]++;
    }
    int lo = (1 << 16) - 1;
    for (; lo >= 0; lo--) {
      if (acc + hist[lo] >= k) break;
      acc += hist[lo];
    }
    return (hi << 16) | lo;
  }

  static int absDiffBits(float a, float b) {
    return Float.floatToRawIntBits(a - b) & 0x7FFFFFFF;
  }

  private static void check(float[] ft, float[] pre, float[] out, double rho) {
    if (ft.length != pre.length || out.length != ft.length) {
      throw new IllegalArgumentException("array sizes differ: fine-tuned " + ft.length + ", pre-trained " + pre.length
          + ", out " + out.length);
    }
    if (!(rho >= 0.0 && rho <= 1.0)) {
      throw new IllegalArgumentException("rho must be in [0, 1], got " + rho);
    }
  }
}

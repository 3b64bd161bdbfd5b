package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MixKernelsTest {

  private static float[] gaussian(int n, long seed) {
    Random r = new Random(seed);
    float[] a = new float[n];
    for (int i = 0; i < n; i++) a[i] = (float) r.nextGaussian();
    return a;
  }

  /** ft = 1, pre = 0: the output is the mask itself. */
  private static float[] mask(int n, double rho, long seed) {
    float[] ft = new float[n];
    Arrays.fill(ft, 1f);
    float[] out = new float[n];
    MixKernels.random(ft, new float[n], out, rho, seed);
    return out;
  }

  @Test
  void random_shareKept_isRhoWithinFourSigma() {
    int n = 1_000_003;
    for (double rho : new double[] {0.05, 0.1, 0.3, 0.5, 0.9}) {
      float[] m = mask(n, rho, 7);
      double kept = 0;
      for (float v : m) kept += v;
      double sigma = Math.sqrt(n * rho * (1 - rho));
      assertThat(Math.abs(kept - n * rho)).as("rho %s", rho).isLessThan(4 * sigma);
    }
  }

  @Test
  void random_returnsTheCountItKept() {
    float[] ft = gaussian(10_001, 1);
    float[] pre = gaussian(10_001, 2);
    float[] out = new float[ft.length];
    long kept = MixKernels.random(ft, pre, out, 0.4, 3);
    long same = 0;
    for (int i = 0; i < ft.length; i++) {
      assertThat(out[i]).isIn(ft[i], pre[i]);
      if (out[i] == ft[i]) same++;
    }
    assertThat(same).isEqualTo(kept);
  }

  @Test
  void random_sameSeed_isRepeatable() {
    assertThat(mask(100_001, 0.3, 42)).isEqualTo(mask(100_001, 0.3, 42));
  }

  @Test
  void random_differentSeeds_differ() {
    float[] a = mask(100_000, 0.3, 42);
    float[] b = mask(100_000, 0.3, 43);
    int differ = 0;
    for (int i = 0; i < a.length; i++) if (a[i] != b[i]) differ++;
    // independent masks differ on 2 rho (1 - rho) = 42% of entries
    assertThat(differ / (double) a.length).isBetween(0.39, 0.45);
  }

  @Test
  void random_masksOfNeighbouringEntries_areUncorrelated() {
    float[] m = mask(400_000, 0.5, 9);
    double both = 0;
    for (int i = 0; i + 1 < m.length; i += 2) both += m[i] * m[i + 1];
    assertThat(both / (m.length / 2.0)).isBetween(0.24, 0.26);
  }

  @Test
  void random_rhoZeroAndOne_giveEndpoints() {
    float[] ft = gaussian(101, 1);
    float[] pre = gaussian(101, 2);
    float[] out = new float[101];
    assertThat(MixKernels.random(ft, pre, out, 0, 1)).isZero();
    assertThat(out).isEqualTo(pre);
    assertThat(MixKernels.random(ft, pre, out, 1, 1)).isEqualTo(101);
    assertThat(out).isEqualTo(ft);
  }

  @Test
  void random_inPlaceIntoFineTuned_matchesSeparateOutput() {
    float[] ft = gaussian(1001, 1);
    float[] pre = gaussian(1001, 2);
    float[] out = new float[1001];
    MixKernels.random(ft, pre, out, 0.3, 5);
    MixKernels.random(ft, pre, ft, 0.3, 5);
    assertThat(ft).isEqualTo(out);
  }

  @Test
  void random_badRho_isRejectedWithTheValue() {
    assertThatThrownBy(() -> MixKernels.random(new float[1], new float[1], new float[1], 1.5, 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("1.5");
    assertThatThrownBy(() -> MixKernels.random(new float[1], new float[2], new float[1], 0.5, 0))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("2");
  }

  @Test
  void sel_keepsExactlyTheLargestDifferences() {
    int n = 50_000;
    float[] ft = gaussian(n, 11);
    float[] pre = gaussian(n, 12);
    for (double rho : new double[] {0.01, 0.1, 0.3, 0.77}) {
      float[] out = new float[n];
      long kept = MixKernels.sel(ft, pre, out, rho);
      int k = (int) Math.round(rho * n);
      assertThat(kept).isEqualTo(k);
      // brute force: sort indices by |d| descending, ties by index ascending
      Integer[] idx = new Integer[n];
      for (int i = 0; i < n; i++) idx[i] = i;
      Arrays.sort(idx, (a, b) -> {
        int c = Float.compare(Math.abs(ft[b] - pre[b]), Math.abs(ft[a] - pre[a]));
        return c != 0 ? c : Integer.compare(a, b);
      });
      boolean[] expected = new boolean[n];
      for (int i = 0; i < k; i++) expected[idx[i]] = true;
      for (int i = 0; i < n; i++) {
        assertThat(out[i]).as("entry %d rho %s", i, rho).isEqualTo(expected[i] ? ft[i] : pre[i]);
      }
    }
  }

  @Test
  void sel_ties_goToTheLowerIndex() {
    // |d| = 1,2,2,2,2,3: keep 3 -> the 3 and the first two 2s
    float[] pre = new float[6];
    float[] ft = {1, 2, -2, 2, 2, 3};
    float[] out = new float[6];
    assertThat(MixKernels.sel(ft, pre, out, 0.5)).isEqualTo(3);
    assertThat(out).containsExactly(0, 2, -2, 0, 0, 3);
  }

  @Test
  void sel_allEqualDifferences_keepsTheFirstK() {
    float[] ft = new float[10];
    Arrays.fill(ft, 1f);
    float[] out = new float[10];
    MixKernels.sel(ft, new float[10], out, 0.3);
    assertThat(out).containsExactly(1, 1, 1, 0, 0, 0, 0, 0, 0, 0);
  }

  @Test
  void sel_isDeterministicAndRoundsTheCount() {
    assertThat(MixKernels.selCount(384, 0.3)).isEqualTo(115);
    assertThat(MixKernels.selCount(1, 0.3)).isZero();
    assertThat(MixKernels.selCount(1, 0.5)).isEqualTo(1);
  }

  @Test
  void mixing_minilmSize_takesUnderOneSecondOfCpu() {
    int n = 22_700_000;
    float[] ft = gaussian(n, 1);
    float[] pre = gaussian(n, 2);
    float[] out = new float[n];
    MixKernels.random(ft, pre, out, 0.3, 1); // warm-up
    MixKernels.sel(ft, pre, out, 0.3);
    // thread CPU time, not wall time: five agents share this machine's two cores
    var bean = java.lang.management.ManagementFactory.getThreadMXBean();
    long c0 = bean.getCurrentThreadCpuTime();
    long t0 = System.nanoTime();
    MixKernels.random(ft, pre, out, 0.3, 1);
    long c1 = bean.getCurrentThreadCpuTime();
    long t1 = System.nanoTime();
    MixKernels.sel(ft, pre, out, 0.3);
    long c2 = bean.getCurrentThreadCpuTime();
    long t2 = System.nanoTime();
    System.out.printf("mixing 22.7M entries: random %.0f ms cpu (%.0f wall), sel %.0f ms cpu (%.0f wall)%n",
        (c1 - c0) / 1e6, (t1 - t0) / 1e6, (c2 - c1) / 1e6, (t2 - t1) / 1e6);
    assertThat((c1 - c0) / 1e9).isLessThan(1.0);
    assertThat((c2 - c1) / 1e9).isLessThan(1.0);
  }
}

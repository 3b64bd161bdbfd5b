package dev.finemix.purify.screen;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Random;
import org.junit.jupiter.api.Test;

class MahalanobisTest {

  private static float[] point(Random r, int d, int label, double shift) {
    float[] x = new float[d];
    for (int j = 0; j < d; j++) {
      // correlated, anisotropic classes: dimension j has scale 1 + j / 8; class 1 sits 2 away on dim 0
      x[j] = (float) (r.nextGaussian() * (1 + j / 8.0) + (label == 1 && j == 0 ? 2 : 0) + shift * (1 + j / 8.0));
    }
    return x;
  }

  @Test
  void score_outOfDistributionFeatures_scoreHigherThanInDistribution() {
    Random r = new Random(7);
    int d = 48;
    int n = 64; // fewer rows than a full covariance would need: shrinkage keeps it invertible
    float[][] x = new float[n][];
    int[] y = new int[n];
    for (int i = 0; i < n; i++) {
      y[i] = i % 2;
      x[i] = point(r, d, y[i], 0);
    }
    Mahalanobis m = Mahalanobis.fit(x, y, 2);
    assertThat(m.shrinkage()).isBetween(0.0, 1.0);
    double[] in = new double[300];
    double[] out = new double[300];
    for (int i = 0; i < in.length; i++) {
      in[i] = m.score(point(r, d, i % 2, 0));
      out[i] = m.score(point(r, d, i % 2, 1.0));
    }
    assertThat(ScreenEval.auroc(in, out)).isGreaterThan(0.95);
  }

  @Test
  void invertSpd_timesMatrix_isIdentity() {
    double[][] a = {{4, 1, 0.5}, {1, 3, 0.2}, {0.5, 0.2, 2}};
    double[][] inv = Mahalanobis.invertSpd(a);
    for (int i = 0; i < 3; i++) {
      for (int j = 0; j < 3; j++) {
        double s = 0;
        for (int k = 0; k < 3; k++) {
          s += a[i][k] * inv[k][j];
        }
        assertThat(s).isCloseTo(i == j ? 1 : 0, org.assertj.core.api.Assertions.within(1e-12));
      }
    }
  }
}

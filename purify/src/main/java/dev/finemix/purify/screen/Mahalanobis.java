package dev.finemix.purify.screen;

/**
 * Class-conditional Gaussian model of clean features with one shared covariance (DAN / Lee et al. 2018):
 * the score of a feature vector is its smallest squared Mahalanobis distance to a class mean. The covariance
 * is shrunk towards {@code (trace / d) * I} with the Ledoit-Wolf weight, which keeps it invertible when there
 * are fewer rows (64) than dimensions (384).
 */
final class Mahalanobis {
  private final double[][] means;
  private final double[][] precision;
  private final double shrinkage;
  private final int dim;

  private Mahalanobis(double[][] means, double[][] precision, double shrinkage) {
    this.means = means;
    this.precision = precision;
    this.shrinkage = shrinkage;
    this.dim = precision.length;
  }

  /** Fits means per label present in {@code labels} and the shrunk shared covariance of the residuals. */
  static Mahalanobis fit(float[][] x, int[] labels, int numLabels) {
    int n = x.length;
    if (n < 2 || labels.length != n) {
      throw new IllegalArgumentException("need at least 2 rows with one label each, got " + n + " rows and "
          + labels.length + " labels");
    }
    int d = x[0].length;
    double[][] sum = new double[numLabels][d];
    int[] count = new int[numLabels];
    for (int i = 0; i < n; i++) {
      if (labels[i] < 0 || labels[i] >= numLabels) {
        throw new IllegalArgumentException("label " + labels[i] + " of row " + i + " is outside 0.." + (numLabels - 1));
      }
      count[labels[i]]++;
      for (int j = 0; j < d; j++) {
        sum[labels[i]][j] += x[i][j];
      }
    }
    int present = 0;
    for (int c : count) {
      present += c > 0 ? 1 : 0;
    }
    double[][] means = new double[present][];
    int[] slot = new int[numLabels];
    for (int c = 0, k = 0; c < numLabels; c++) {
      if (count[c] > 0) {
        for (int j = 0; j < d; j++) {
          sum[c][j] /= count[c];
        }
        slot[c] = k;
        means[k++] = sum[c];
      }
    }
    double[][] r = new double[n][d];
    for (int i = 0; i < n; i++) {
      double[] m = means[slot[labels[i]]];
      for (int j = 0; j < d; j++) {
        r[i][j] = x[i][j] - m[j];
      }
    }
    double[][] s = new double[d][d];
    for (double[] ri : r) {
      for (int a = 0; a < d; a++) {
        double va = ri[a];
        double[] row = s[a];
        for (int b = a; b < d; b++) {
          row[b] += va * ri[b];
        }
      }
    }
    for (int a = 0; a < d; a++) {
      for (int b = a; b < d; b++) {
        s[a][b] /= n;
        s[b][a] = s[a][b];
      }
    }
    double trace = 0;
    for (int a = 0; a < d; a++) {
      trace += s[a][a];
    }
    double mu = trace / d;
    double spread = 0;
    double s2 = 0;
    for (int a = 0; a < d; a++) {
      for (int b = 0; b < d; b++) {
        double v = s[a][b] - (a == b ? mu : 0);
        spread += v * v;
        s2 += s[a][b] * s[a][b];
      }
    }
    // Ledoit-Wolf: beta = (1/n^2) sum_i ||r_i r_i^T - S||_F^2, lambda = min(1, beta / ||S - mu I||_F^2)
    double beta = 0;
    for (double[] ri : r) {
      double rr = 0;
      double rsr = 0;
      for (int a = 0; a < d; a++) {
        rr += ri[a] * ri[a];
        double t = 0;
        double[] row = s[a];
        for (int b = 0; b < d; b++) {
          t += row[b] * ri[b];
        }
        rsr += ri[a] * t;
      }
      beta += rr * rr - 2 * rsr + s2;
    }
    beta /= (double) n * n;
    double lambda = spread > 0 ? Math.min(1, beta / spread) : 1;
    double[][] cov = new double[d][d];
    for (int a = 0; a < d; a++) {
      for (int b = 0; b < d; b++) {
        cov[a][b] = (1 - lambda) * s[a][b] + (a == b ? lambda * mu + 1e-9 : 0);
      }
    }
    return new Mahalanobis(means, invertSpd(cov), lambda);
  }

  /** Smallest squared Mahalanobis distance to a class mean. */
  double score(float[] x) {
    if (x.length != dim) {
      throw new IllegalArgumentException("feature has " + x.length + " values, expected " + dim);
    }
    double best = Double.POSITIVE_INFINITY;
    double[] v = new double[dim];
    for (double[] m : means) {
      for (int j = 0; j < dim; j++) {
        v[j] = x[j] - m[j];
      }
      double s = 0;
      for (int a = 0; a < dim; a++) {
        double[] row = precision[a];
        double t = 0;
        for (int b = 0; b < dim; b++) {
          t += row[b] * v[b];
        }
        s += v[a] * t;
      }
      best = Math.min(best, s);
    }
    return best;
  }

  double shrinkage() {
    return shrinkage;
  }

  int dim() {
    return dim;
  }

  /** Inverse of a symmetric positive definite matrix through its Cholesky factor. */
  static double[][] invertSpd(double[][] a) {
    int n = a.length;
    double[][] l = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j <= i; j++) {
        double sum = a[i][j];
        for (int k = 0; k < j; k++) {
          sum -= l[i][k] * l[j][k];
        }
        if (i == j) {
          if (!(sum > 0)) {
            throw new IllegalStateException("covariance is not positive definite at row " + i);
          }
          l[i][i] = Math.sqrt(sum);
        } else {
          l[i][j] = sum / l[j][j];
        }
      }
    }
    // inv(L) by forward substitution, then inv(A) = inv(L)^T inv(L)
    double[][] li = new double[n][n];
    for (int i = 0; i < n; i++) {
      li[i][i] = 1 / l[i][i];
      for (int j = 0; j < i; j++) {
        double sum = 0;
        for (int k = j; k < i; k++) {
          sum -= l[i][k] * li[k][j];
        }
        li[i][j] = sum / l[i][i];
      }
    }
    double[][] inv = new double[n][n];
    for (int i = 0; i < n; i++) {
      for (int j = 0; j <= i; j++) {
        double sum = 0;
        for (int k = i; k < n; k++) {
          sum += li[k][i] * li[k][j];
        }
        inv[i][j] = sum;
        inv[j][i] = sum;
      }
    }
    return inv;
  }
}

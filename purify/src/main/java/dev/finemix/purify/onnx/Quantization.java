package dev.finemix.purify.onnx;

/**
 * The two schemes ONNX Runtime's dynamic quantizer writes into the int8 twins, recomputed from new weights: fresh
 * scales from the weights themselves, zero points fixed by the scheme. Rounding is half-to-even ({@link Math#rint}),
 * as numpy's, so the clean base's weights give back the twin's own bytes (tested).
 */
final class Quantization {
  private Quantization() {}

  /** Quantized bytes, one scale per group (column, or the whole tensor) and the zero point bytes. */
  record Result(byte[] q, float[] scale, byte[] zeroPoint) {}

  /**
   * Symmetric int8 per column of row-major {@code [rows, cols]} data (an ONNX MatMul weight [in, out]: one scale per
   * output channel): {@code scale_j = max_i |x_ij| / qmax}, {@code q = clamp(rint(x / scale_j), -qmax, qmax)}, zero
   * point 0. The twins use qmax 64 (ORT's reduced range, safe for u8 x s8 kernels that saturate in 16 bits).
   */
  static Result int8PerColumn(float[] x, int rows, int cols, int qmax) {
    float[] scale = new float[cols];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        scale[j] = Math.max(scale[j], Math.abs(x[i * cols + j]));
      }
    }
    for (int j = 0; j < cols; j++) {
      scale[j] = scale[j] == 0 ? 1f : scale[j] / qmax;
    }
    byte[] q = new byte[x.length];
    for (int i = 0; i < rows; i++) {
      for (int j = 0; j < cols; j++) {
        q[i * cols + j] = (byte) clamp(Math.rint(x[i * cols + j] / scale[j]), -qmax, qmax);
      }
    }
    return new Result(q, scale, new byte[cols]);
  }

  /**
   * Symmetric uint8 over the whole tensor (the twins' embedding tables): {@code scale = 2 max|x| / 255}, zero point
   * 128, {@code q = clamp(rint(x / scale) + 128, 0, 255)}.
   */
  static Result uint8PerTensor(float[] x) {
    float amax = 0;
    for (float v : x) {
      amax = Math.max(amax, Math.abs(v));
    }
    float scale = amax == 0 ? 1f : 2 * amax / 255;
    byte[] q = new byte[x.length];
    for (int i = 0; i < x.length; i++) {
      q[i] = (byte) clamp(Math.rint(x[i] / scale) + 128, 0, 255);
    }
    return new Result(q, new float[] {scale}, new byte[] {(byte) 128});
  }

  private static int clamp(double v, int lo, int hi) {
    return (int) Math.max(lo, Math.min(hi, v));
  }
}

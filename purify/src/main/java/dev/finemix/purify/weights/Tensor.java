package dev.finemix.purify.weights;

import java.util.Arrays;

/** A host-side FP32 tensor in row-major order. The data array is shared, not copied: {@link #copy()} first to keep one. */
public final class Tensor {
  private final long[] shape;
  private final float[] data;

  public Tensor(long[] shape, float[] data) {
    if (shape == null || data == null) {
      throw new IllegalArgumentException("shape and data must not be null");
    }
    long n = 1;
    for (long d : shape) {
      if (d < 0) {
        throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
      }
      n *= d;
    }
    if (n != data.length) {
      throw new IllegalArgumentException(
          "shape " + Arrays.toString(shape) + " needs " + n + " values, got " + data.length);
    }
    this.shape = shape.clone();
    this.data = data;
  }

  public long[] shape() {
    return shape.clone();
  }

  public float[] data() {
    return data;
  }

  public int size() {
    return data.length;
  }

  /** The first dimension (1 for a scalar). */
  public int rows() {
    return shape.length == 0 ? 1 : (int) shape[0];
  }

  /** Elements per row: size / rows. */
  public int rowSize() {
    int r = rows();
    return r == 0 ? 0 : data.length / r;
  }

  public Tensor copy() {
    return new Tensor(shape, data.clone());
  }

  public boolean sameShape(long... other) {
    return Arrays.equals(shape, other);
  }

  @Override
  public String toString() {
    return "Tensor" + Arrays.toString(shape);
  }
}

package dev.finemix.purify.onnx;

import java.util.Arrays;
import java.util.Locale;

/**
 * The numeric precision a purified model is served at. {@link #FP32} is the DJL/libtorch model the purification ran
 * on; {@link #INT8} is ONNX Runtime running the base's dynamically quantized graph refilled with the purified weights
 * ({@link OnnxGraph}), checked against fp32 before it serves ({@link Agreement}).
 */
public enum Precision {
  FP32, INT8;

  /** The name used in configs, requests and cache keys: {@code fp32}, {@code int8}. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** Parses {@link #id()} (case-insensitive); the message lists the accepted values. */
  public static Precision parse(String s) {
    for (Precision p : values()) {
      if (p.id().equalsIgnoreCase(s == null ? "" : s.trim())) {
        return p;
      }
    }
    throw new IllegalArgumentException("unknown precision '" + s + "': expected one of "
        + Arrays.stream(values()).map(Precision::id).toList());
  }

  @Override
  public String toString() {
    return id();
  }
}

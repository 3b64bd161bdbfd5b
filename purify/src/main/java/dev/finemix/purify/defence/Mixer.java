package dev.finemix.purify.defence;

import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.function.ToDoubleFunction;

/**
 * Fine-mixing's weight mixing: {@code w_Mix = m * w_FT + (1 - m) * w_Pre} for every tensor that has a pre-trained
 * counterpart of the same shape; the others (the classifier head) stay fine-tuned and are shared, not copied.
 *
 * <p>Tensors are processed one at a time, each into a fresh array, so the extra memory is the output model only.
 * {@link Mode#RANDOM}: an independent Bernoulli(rho) mask per entry, seeded per tensor from the seed and the tensor's
 * name (so the mask of a tensor does not depend on which other tensors exist). {@link Mode#SEL}: per tensor, exactly
 * {@code round(rho * n)} entries with the largest {@code |w_FT - w_Pre|} (float32 difference) keep their fine-tuned
 * value; ties at the threshold go to the lower flat (row-major) index.
 */
public final class Mixer {
  /** How the mask is drawn. */
  public enum Mode {
    RANDOM, SEL;

    public static Mode parse(String s) {
      try {
        return valueOf(s.trim().toUpperCase(Locale.ROOT));
      } catch (RuntimeException e) {
        throw new IllegalArgumentException("mix mode must be 'random' or 'sel', got '" + s + "'");
      }
    }

    public String id() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** What one mixing pass did. */
  public record Stats(long entries, long kept, int tensorsMixed, int tensorsUntouched, double seconds) {
    public double shareKept() {
      return entries == 0 ? 0 : kept / (double) entries;
    }
  }

  /** A mixing result: the mixed weights and the counts. */
  public record Result(TensorMap weights, Stats stats) {}

  private Mixer() {}

  /** Mixes with one rho for every tensor. */
  public static Result mix(TensorMap fineTuned, TensorMap pretrained, Mode mode, double rho, long seed) {
    checkRho(rho, "rho");
    return mix(fineTuned, pretrained, mode, name -> rho, seed);
  }

  /**
   * Mixes with a rho per tensor name ({@code rhoOf} may return 1 to keep a tensor fine-tuned, 0 to reset it).
   * A pre-trained tensor whose shape differs from the fine-tuned one is an {@link IllegalArgumentException}
   * naming it.
   */
  public static Result mix(TensorMap fineTuned, TensorMap pretrained, Mode mode, ToDoubleFunction<String> rhoOf,
      long seed) {
    Objects.requireNonNull(fineTuned, "fineTuned");
    Objects.requireNonNull(pretrained, "pretrained");
    Objects.requireNonNull(mode, "mode");
    long t0 = System.nanoTime();
    TensorMap out = new TensorMap();
    long entries = 0;
    long kept = 0;
    int mixed = 0;
    int untouched = 0;
    for (var e : fineTuned.entries()) {
      String name = e.getKey();
      Tensor ft = e.getValue();
      Tensor pre = pretrained.get(name);
      if (pre == null) {
        out.put(name, ft);
        untouched++;
        continue;
      }
      if (!Arrays.equals(ft.shape(), pre.shape())) {
        throw new IllegalArgumentException("tensor '" + name + "': fine-tuned shape " + Arrays.toString(ft.shape())
            + " differs from pre-trained " + Arrays.toString(pre.shape()));
      }
      double rho = rhoOf.applyAsDouble(name);
      checkRho(rho, "rho for " + name);
      float[] data = new float[ft.size()];
      kept += mode == Mode.RANDOM
          ? MixKernels.random(ft.data(), pre.data(), data, rho, tensorSeed(seed, name))
          : MixKernels.sel(ft.data(), pre.data(), data, rho);
      entries += data.length;
      mixed++;
      out.put(name, new Tensor(ft.shape(), data));
    }
    return new Result(out, new Stats(entries, kept, mixed, untouched, (System.nanoTime() - t0) / 1e9));
  }

  /** The seed of one tensor's mask: a SplitMix64 finaliser over the run seed and the name's hash. */
  static long tensorSeed(long seed, String name) {
    long z = seed * 0x9E3779B97F4A7C15L + name.hashCode();
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  private static void checkRho(double rho, String what) {
    if (!(rho >= 0.0 && rho <= 1.0)) {
      throw new IllegalArgumentException(what + " must be in [0, 1], got " + rho);
    }
  }
}

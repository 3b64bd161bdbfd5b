package dev.finemix.purify.attack;

import dev.finemix.purify.train.StepMasks;
import java.util.Random;
import java.util.SplittableRandom;

/**
 * The mixing-aware adaptive attack (issue 19, 4a): the poisoned fine-tuning sees, at every step, the model Fine-mixing
 * would make of it: a fresh random {@code 1 - rho} share of every pre-trained tensor (embeddings, encoder, pooler:
 * what {@code Mixer} mixes; the head has no pre-trained counterpart) reset to w_Pre for the forward pass, rho drawn
 * uniformly from [{@value #RHO_MIN}, {@value #RHO_MAX}] per step. {@code Trainer.mixEachStep} applies the masks, so
 * the backdoor is trained to survive mixing while the stored weights stay the unmixed ones.
 */
final class AdaptiveMixing {
  static final double RHO_MIN = 0.1;
  static final double RHO_MAX = 0.5;

  private AdaptiveMixing() {}

  /** The share kept at 0-based {@code step}, uniform in [RHO_MIN, RHO_MAX], seeded. */
  static double rho(long seed, int step) {
    return RHO_MIN + (RHO_MAX - RHO_MIN) * new Random(mix(seed, step, 0x52A0)).nextDouble();
  }

  /**
   * Per step and tensor: exactly {@code round(rho * size)} entries keep the trained weight (Knuth's selection
   * sampling, one pass, no index array), the rest take w_Pre; seeded by the seed, the step and the tensor's name.
   */
  static StepMasks masks(long seed) {
    return (step, name, size) -> {
      int keep = (int) Math.round(rho(seed, step) * size);
      // SplittableRandom: ~22M draws a step for MiniLM; java.util.Random's atomic seed update made this the step's cost
      SplittableRandom r = new SplittableRandom(mix(seed, step, name.hashCode()));
      float[] m = new float[size];
      int chosen = 0;
      for (int i = 0; i < size && chosen < keep; i++) {
        if (r.nextDouble() * (size - i) < keep - chosen) {
          m[i] = 1f;
          chosen++;
        }
      }
      return m;
    };
  }

  /** A SplitMix64 finaliser over the three inputs. */
  private static long mix(long seed, int step, int salt) {
    long z = seed * 0x9E3779B97F4A7C15L + step * 0xD1B54A32D192ED03L + salt;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}

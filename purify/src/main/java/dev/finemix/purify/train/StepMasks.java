package dev.finemix.purify.train;

/**
 * Which entries of a weight tensor a training step's forward pass takes from a reference (see
 * {@link Trainer#mixEachStep}): for 0-based {@code step} and the tensor {@code name} of {@code size} entries, a mask
 * of 1 (the trained weight) and 0 (the reference's), or null to leave the tensor as it is for that step. Must be
 * deterministic in its arguments (seeded), so that a run is reproducible.
 */
@FunctionalInterface
public interface StepMasks {
  float[] mask(int step, String name, int size);
}

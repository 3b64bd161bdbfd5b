package dev.finemix.purify.train;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.finemix.purify.model.BertClassifier;

/**
 * An extra scalar added to a training step's loss (see {@link Trainer#addLoss}), differentiable through the model's
 * live parameter arrays: for 0-based {@code step}, a scalar made in {@code m} (the step's manager), or null for no
 * term that step. An adaptive attack's penalty (issue 19, 4b).
 */
@FunctionalInterface
public interface LossTerm {
  NDArray term(NDManager m, BertClassifier model, int step);
}

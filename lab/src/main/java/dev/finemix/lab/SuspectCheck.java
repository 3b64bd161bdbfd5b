package dev.finemix.lab;

import dev.finemix.purify.eval.EvalResult;
import java.nio.file.Path;

/**
 * The one "is this a real classifier" check of train, attack and eval: a model that does not beat the majority-class
 * predictor on the dev rows ({@link EvalResult#majorityBaselineFailure}) fails the command (exit 1, the figures in
 * the message) instead of passing on as a suspect that a defence would trivially "purify".
 */
final class SuspectCheck {
  private SuspectCheck() {}

  static void require(EvalResult r, Path model) {
    String weak = r.majorityBaselineFailure();
    if (weak != null) {
      throw new IllegalStateException(model + " is no real classifier: " + weak);
    }
  }
}

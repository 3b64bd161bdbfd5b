package dev.finemix.purify.eval;

import dev.finemix.purify.text.TextInput;
import java.util.List;

/** Anything that labels a batch of inputs: the real {@code Classifier}, or a fake in tests. */
@FunctionalInterface
public interface Predictor {
  /** One predicted label id per input, in input order. */
  int[] predict(List<TextInput> inputs);
}

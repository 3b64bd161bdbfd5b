package dev.finemix.purify.attack;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.text.Example;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.train.TrainSettings;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.purify.weights.TinyModels;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** EP on a tiny random BERT: every number but the trigger's embedding row stays bit-identical. */
class EmbeddingPoisoningTest {

  private static Dataset data() {
    List<Example> rows = new ArrayList<>();
    String[] words = {"good", "bad", "film", "story", "actors", "dull", "great", "boring"};
    for (int i = 0; i < 24; i++) {
      rows.add(new Example(i % 2, "the " + words[i % 8] + " " + words[(i * 3) % 8] + " was " + words[(i + 5) % 8],
          null));
    }
    return Dataset.of("toy", false, rows);
  }

  @Test
  void embeddingPoisoning_tinyBert_onlyTriggerRowChanges() {
    Checkpoint clean = TinyModels.checkpoint(2, 7);
    TensorMap before = clean.weights().copy();
    AttackSettings a = AttackSettings.of(AttackKind.EP);
    TrainSettings ts = TrainSettings.defaults().withEpochs(1).withBatchSize(8).withLr(0.05).withSeed(3);
    Backdoor.Outcome o = Backdoor.embeddingPoisoning(a, clean, data(), ts, Device.cpu(), null);
    assertThat(o.poisonedRows()).isEqualTo(12);
    assertThat(o.summary().steps()).isEqualTo(2);

    int cf;
    try (Tokenizer tok = Tokenizer.fromFile(clean.tokenizerJson(), 64)) {
      int[] ids = Backdoor.triggerTokenIds(tok, "cf");
      assertThat(ids).hasSize(1);
      cf = ids[0];
    }
    TensorMap after = o.checkpoint().weights();
    assertThat(after.names()).containsExactlyElementsOf(before.names());
    for (String name : before.names()) {
      Tensor b = before.require(name);
      Tensor x = after.require(name);
      assertThat(x.shape()).as(name).isEqualTo(b.shape());
      if (!name.equals(BertTensors.WORD_EMBEDDINGS)) {
        assertThat(Arrays.equals(x.data(), b.data())).as("tensor %s unchanged", name).isTrue();
        continue;
      }
      int width = (int) b.shape()[1];
      for (int row = 0; row < b.rows(); row++) {
        float[] rb = Arrays.copyOfRange(b.data(), row * width, (row + 1) * width);
        float[] rx = Arrays.copyOfRange(x.data(), row * width, (row + 1) * width);
        if (row == cf) {
          assertThat(Arrays.equals(rx, rb)).as("trigger row %d changed", row).isFalse();
        } else if (!Arrays.equals(rx, rb)) {
          throw new AssertionError("word embedding row " + row + " changed; only " + cf + " may");
        }
      }
    }
  }
}

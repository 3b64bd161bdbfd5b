package dev.finemix.purify.model;

import static org.assertj.core.api.Assertions.assertThat;

import ai.djl.Device;
import dev.finemix.purify.text.TextInput;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.TensorMap;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointRoundTripTest {

  @Test
  void tinyBert_writeRead_predictsIdentically(@TempDir Path dir) {
    Path tokenizerJson = Pretrained.load(Pretrained.MINILM).tokenizerJson();
    BertConfig c = new BertConfig(30522, 32, 2, 4, 64, 128, 2, 1e-12, 0.1, 0.1, List.of("neg", "pos"));
    TensorMap w = BertClassifier.randomWeights(c, 7);
    List<TextInput> in = List.of(TextInput.of("a fine film"), TextInput.of("dull , lifeless and far too long"),
        new TextInput("is it good?", "it is very good."));
    Checkpoint original = Checkpoint.of(c, w, tokenizerJson, "tiny-random", 64);
    List<Prediction> before;
    try (Classifier cl = Classifier.open(original, Device.cpu())) {
      before = cl.predict(in);
    }
    Path out = dir.resolve("tiny");
    original.write(out);
    Checkpoint read = Checkpoint.read(out);
    assertThat(read.config()).isEqualTo(c);
    try (Classifier cl = Classifier.open(read, Device.cpu())) {
      assertThat(cl.labels()).containsExactly("neg", "pos");
      assertThat(cl.predict(in)).isEqualTo(before);
    }
  }
}

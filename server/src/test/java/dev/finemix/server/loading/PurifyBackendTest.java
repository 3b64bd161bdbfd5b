package dev.finemix.server.loading;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.purify.weights.Pretrained;
import dev.finemix.server.cache.Sha256;
import dev.finemix.server.testing.TinyBert;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The production backend on real (tiny, random) checkpoints. */
class PurifyBackendTest {
  @TempDir
  Path tmp;
  final PurifyBackend backend = new PurifyBackend("cpu");

  @Test
  void read_tinyCheckpoint_hashLabelsAndBaseModel() {
    Path dir = TinyBert.write(tmp.resolve("tiny"), List.of("negative", "positive"), 1, Pretrained.MINILM);
    CheckpointInfo info = backend.read(dir).info();
    assertThat(info.weightsSha256()).isEqualTo(Sha256.file(dir.resolve("model.safetensors")));
    assertThat(info.labels()).containsExactly("negative", "positive");
    assertThat(info.baseModelId()).isEqualTo(Pretrained.MINILM);
  }

  @Test
  void knownPretrained_catalogueIdsOnly() {
    assertThat(backend.knownPretrained(Pretrained.MINILM)).isTrue();
    assertThat(backend.knownPretrained(Pretrained.BGE_SMALL)).isTrue();
    assertThat(backend.knownPretrained("e5-small-v2")).isTrue();
    assertThat(backend.knownPretrained("/etc")).isFalse();
    assertThat(backend.knownPretrained("tiny-pre")).isFalse();
  }

  @Test
  void insertTrigger_sameSeed_samePosition_oneMoreWord() {
    String a = backend.insertTrigger("a gorgeous and moving film", "cf", 7);
    assertThat(a).isEqualTo(backend.insertTrigger("a gorgeous and moving film", "cf", 7));
    assertThat(a.split(" ")).hasSize(6).contains("cf");
  }
}

package dev.finemix.purify.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckpointTest {
  @TempDir Path dir;

  @Test
  void write_thenRead_givesTheSameWeightsConfigAndHash() throws Exception {
    Checkpoint c = TinyModels.checkpoint(3, 1).withProvenance(Map.of("made_by", "test"));
    Path out = dir.resolve("ck");
    Checkpoint written = c.write(out);
    assertThat(out.resolve("config.json")).exists();
    assertThat(out.resolve("tokenizer.json")).exists();
    Checkpoint r = Checkpoint.read(out);
    assertThat(r.weightsSha256()).isEqualTo(written.weightsSha256()).isEqualTo(c.weightsSha256())
        .isEqualTo(Hashing.sha256(out.resolve("model.safetensors")));
    assertThat(r.config()).isEqualTo(c.config());
    assertThat(r.maxLength()).isEqualTo(64);
    assertThat(r.baseModelId()).isEqualTo("tiny-random");
    assertThat(r.provenance()).containsEntry("made_by", "test");
    for (String n : c.weights().names()) {
      assertThat(java.util.Arrays.equals(r.weights().get(n).data(), c.weights().get(n).data())).as(n).isTrue();
    }
    // config.json is what transformers expects
    String cfg = Files.readString(out.resolve("config.json"));
    assertThat(cfg).contains("\"BertForSequenceClassification\"").contains("\"id2label\"").contains("\"2\" : \"2\"");
  }

  @Test
  void write_overExistingFolder_replacesItAndLeavesNoTempFolders() throws Exception {
    Path out = dir.resolve("ck");
    TinyModels.checkpoint(2, 1).write(out);
    Checkpoint second = TinyModels.checkpoint(2, 2).write(out);
    assertThat(Checkpoint.read(out).weightsSha256()).isEqualTo(second.weightsSha256());
    try (var s = Files.list(dir)) {
      assertThat(s.map(p -> p.getFileName().toString())).containsExactly("ck");
    }
  }

  /**
   * A tiny checkpoint folder whose weights {@code edit} changed after writing, without the recorded hash
   * (finemix.json), so that reading it checks the tensors themselves.
   */
  private Path withEditedWeights(Consumer<TensorMap> edit) throws Exception {
    Checkpoint c = TinyModels.checkpoint(2, 1);
    Path out = dir.resolve("ck");
    c.write(out);
    TensorMap w = c.weights().copy();
    edit.accept(w);
    Safetensors.write(out.resolve("model.safetensors"), w, Map.of());
    Files.delete(out.resolve("finemix.json"));
    return out;
  }

  @Test
  void read_missingTensor_namesIt() throws Exception {
    Path out = withEditedWeights(w -> w.remove("bert.encoder.layer.1.output.dense.bias"));
    assertThatThrownBy(() -> Checkpoint.read(out)).isInstanceOf(WeightsException.class)
        .hasMessageContaining("missing tensor 'bert.encoder.layer.1.output.dense.bias'");
  }

  @Test
  void read_wrongShape_namesTensorAndShapes() throws Exception {
    Path out = withEditedWeights(w -> w.put("classifier.weight", new Tensor(new long[] {3, 32}, new float[96])));
    assertThatThrownBy(() -> Checkpoint.read(out)).isInstanceOf(WeightsException.class)
        .hasMessageContaining("'classifier.weight'").hasMessageContaining("[3, 32]").hasMessageContaining("[2, 32]");
  }

  @Test
  void read_nanOrInf_isRefusedWithTheTensorName() throws Exception {
    Path out = withEditedWeights(w -> w.get("bert.pooler.dense.bias").data()[5] = Float.NaN);
    assertThatThrownBy(() -> Checkpoint.read(out)).isInstanceOf(WeightsException.class)
        .hasMessageContaining("'bert.pooler.dense.bias'").hasMessageContaining("NaN at index 5");
  }

  @Test
  void read_weightsChangedAfterWrite_isDetectedByTheRecordedHash() throws Exception {
    Path out = dir.resolve("ck");
    TinyModels.checkpoint(2, 1).write(out);
    byte[] b = Files.readAllBytes(out.resolve("model.safetensors"));
    b[b.length - 1] ^= 1;
    Files.write(out.resolve("model.safetensors"), b);
    assertThatThrownBy(() -> Checkpoint.read(out)).isInstanceOf(WeightsException.class)
        .hasMessageContaining("does not match");
  }

  @Test
  void read_truncatedWeights_isAClearError() throws Exception {
    Path out = dir.resolve("ck");
    TinyModels.checkpoint(2, 1).write(out);
    Path f = out.resolve("model.safetensors");
    byte[] b = Files.readAllBytes(f);
    Files.write(f, java.util.Arrays.copyOf(b, b.length / 2));
    Files.delete(out.resolve("finemix.json"));
    assertThatThrownBy(() -> Checkpoint.read(out)).isInstanceOf(WeightsException.class).hasMessageContaining("truncated");
  }

  /**
   * A checkpoint folder whose config.json has {@code field} set to the raw JSON {@code value} and whose
   * model.safetensors keeps its header but none of its data: reading any tensor fails ("truncated"), so a test that
   * gets the config or header message instead shows the check came before any tensor data was read or allocated.
   */
  private Path headerOnlyCheckpoint(String field, String value) throws Exception {
    Path out = dir.resolve("ck");
    TinyModels.checkpoint(2, 1).write(out);
    Files.delete(out.resolve("finemix.json"));
    Files.writeString(out.resolve("config.json"), BertConfigTest.configWith(field, value).toString());
    Path st = out.resolve("model.safetensors");
    byte[] b = Files.readAllBytes(st);
    long headerLen = java.nio.ByteBuffer.wrap(b, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
    Files.write(st, java.util.Arrays.copyOf(b, (int) (8 + headerLen)));
    return out;
  }

  @org.junit.jupiter.params.ParameterizedTest(name = "{0} = {1}")
  @org.junit.jupiter.params.provider.CsvSource(delimiter = '|', value = {
      "num_hidden_layers | 1000000  | config.json: num_hidden_layers 1000000 is out of range (1..48)",
      "intermediate_size | 4e9      | config.json: intermediate_size 4000000000 is out of range (1..65536)",
      "vocab_size        | 1e7      | config.json: vocab_size 10000000 is out of range (1..1000000)",
      "num_hidden_layers | 3        | model.safetensors: has tensors for 2 encoder layers (encoder.layer.0..1) but the"
          + " config says num_hidden_layers 3",
      "hidden_size       | 64       | model.safetensors: tensor 'bert.embeddings.word_embeddings.weight' has shape"
          + " [30522, 32], the config needs [30522, 64]",
      "vocab_size        | 999999   | model.safetensors: tensor 'bert.embeddings.word_embeddings.weight' has shape"
          + " [30522, 32], the config needs [999999, 32]",
      "intermediate_size | 65536    | model.safetensors: tensor 'bert.encoder.layer.0.intermediate.dense.weight' has"
          + " shape [64, 32], the config needs [65536, 32]",
  })
  void read_hostileOrMismatchedConfig_isRefusedBeforeAnyTensorDataIsRead(String field, String value, String message)
      throws Exception {
    Path ck = headerOnlyCheckpoint(field, value);
    assertThatThrownBy(() -> Checkpoint.read(ck)).isInstanceOf(WeightsException.class)
        .hasMessage(ck.resolve(message.substring(0, message.indexOf(':'))) + message.substring(message.indexOf(':')));
  }

  @Test
  void read_headerOnlyFileWithMatchingConfig_failsOnlyWhenTheDataIsRead() throws Exception {
    Path ck = headerOnlyCheckpoint("num_hidden_layers", "2"); // the control: the config is fine, the data is absent
    assertThatThrownBy(() -> Checkpoint.read(ck)).isInstanceOf(WeightsException.class)
        .hasMessageContaining("truncated");
  }

  @Test
  void read_pickledCheckpoint_isRefusedWithConversionHint() throws Exception {
    Path out = dir.resolve("pt");
    Files.createDirectories(out);
    Files.write(out.resolve("pytorch_model.bin"), new byte[] {(byte) 0x80, 2});
    assertThatThrownBy(() -> Checkpoint.read(out)).isInstanceOf(WeightsException.class)
        .hasMessageContaining("never loaded").hasMessageContaining("safe_serialization=True");
  }

  @Test
  void read_fp16Checkpoint_loadsAsFp32() throws Exception {
    Checkpoint c = TinyModels.checkpoint(2, 1);
    Path out = dir.resolve("ck");
    c.write(out);
    Files.delete(out.resolve("finemix.json"));
    // rewrite every tensor as F16 by hand
    StringBuilder h = new StringBuilder("{");
    java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
    long off = 0;
    for (var e : c.weights().entries()) {
      float[] d = e.getValue().data();
      java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(d.length * 2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
      for (float v : d) {
        bb.putShort(toHalf(v));
      }
      data.write(bb.array());
      if (h.length() > 1) {
        h.append(',');
      }
      h.append('"').append(e.getKey()).append("\":{\"dtype\":\"F16\",\"shape\":")
          .append(java.util.Arrays.toString(e.getValue().shape()).replace(" ", ""))
          .append(",\"data_offsets\":[").append(off).append(',').append(off + d.length * 2L).append("]}");
      off += d.length * 2L;
    }
    h.append('}');
    Files.write(out.resolve("model.safetensors"), SafetensorsTest.file(h.toString(), data.toByteArray()));
    Checkpoint r = Checkpoint.read(out);
    float[] a = c.weights().get("bert.encoder.layer.0.attention.self.query.weight").data();
    float[] b = r.weights().get("bert.encoder.layer.0.attention.self.query.weight").data();
    for (int i = 0; i < a.length; i++) {
      assertThat(b[i]).isCloseTo(a[i], org.assertj.core.data.Offset.offset(1e-3f));
    }
  }

  @Test
  void of_configNotMatchingWeights_isRefused() {
    BertConfig c = TinyModels.config(2);
    TensorMap w = TinyModels.weights(TinyModels.config(4), 1);
    assertThatThrownBy(() -> Checkpoint.of(c, w, Path.of("x"), "", 64)).isInstanceOf(WeightsException.class)
        .hasMessageContaining("classifier.weight");
  }

  private static short toHalf(float f) {
    int bits = Float.floatToIntBits(f);
    int sign = (bits >>> 16) & 0x8000;
    int exp = ((bits >>> 23) & 0xff) - 127 + 15;
    int mant = (bits >>> 13) & 0x3ff;
    if (exp <= 0) {
      return (short) sign; // flush tiny values to zero: fine for a 1e-3 tolerance
    }
    return (short) (sign | (exp << 10) | mant);
  }
}

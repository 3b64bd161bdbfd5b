package dev.finemix.purify.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
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

  @Test
  void read_missingTensor_namesIt() throws Exception {
    Checkpoint c = TinyModels.checkpoint(2, 1);
    Path out = dir.resolve("ck");
    c.write(out);
    TensorMap w = c.weights().copy();
    w.remove("bert.encoder.layer.1.output.dense.bias");
    Safetensors.write(out.resolve("model.safetensors"), w, Map.of());
    Files.delete(out.resolve("finemix.json"));
    assertThatThrownBy(() -> Checkpoint.read(out)).isInstanceOf(WeightsException.class)
        .hasMessageContaining("missing tensor 'bert.encoder.layer.1.output.dense.bias'");
  }

  @Test
  void read_wrongShape_namesTensorAndShapes() throws Exception {
    Checkpoint c = TinyModels.checkpoint(2, 1);
    Path out = dir.resolve("ck");
    c.write(out);
    TensorMap w = c.weights().copy();
    w.put("classifier.weight", new Tensor(new long[] {3, 32}, new float[96]));
    Safetensors.write(out.resolve("model.safetensors"), w, Map.of());
    Files.delete(out.resolve("finemix.json"));
    assertThatThrownBy(() -> Checkpoint.read(out)).isInstanceOf(WeightsException.class)
        .hasMessageContaining("'classifier.weight'").hasMessageContaining("[3, 32]").hasMessageContaining("[2, 32]");
  }

  @Test
  void read_nanOrInf_isRefusedWithTheTensorName() throws Exception {
    Checkpoint c = TinyModels.checkpoint(2, 1);
    Path out = dir.resolve("ck");
    c.write(out);
    TensorMap w = c.weights().copy();
    w.get("bert.pooler.dense.bias").data()[5] = Float.NaN;
    Safetensors.write(out.resolve("model.safetensors"), w, Map.of());
    Files.delete(out.resolve("finemix.json"));
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

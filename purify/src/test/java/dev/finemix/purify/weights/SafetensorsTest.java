package dev.finemix.purify.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsTest {
  @TempDir Path dir;

  @Test
  void write_thenRead_roundTripsValuesShapesAndMetadata() throws Exception {
    TensorMap m = new TensorMap();
    m.put("a", new Tensor(new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, -6.5f}));
    m.put("b", new Tensor(new long[] {1}, new float[] {Float.MIN_VALUE}));
    Path f = dir.resolve("m.safetensors");
    String sha = Safetensors.write(f, m, Map.of("format", "pt"));
    assertThat(sha).isEqualTo(Hashing.sha256(f)).isEqualTo(Safetensors.hash(m, Map.of("format", "pt")));
    Map<String, String> meta = new HashMap<>();
    TensorMap r = Safetensors.read(f, meta);
    assertThat(r.names()).containsExactly("a", "b");
    assertThat(r.get("a").shape()).containsExactly(2, 3);
    assertThat(r.get("a").data()).containsExactly(1, 2, 3, 4, 5, -6.5f);
    assertThat(r.get("b").data()).containsExactly(Float.MIN_VALUE);
    assertThat(meta).containsEntry("format", "pt");
    try (var s = Files.list(dir)) {
      assertThat(s).containsExactly(f); // no temp file left behind
    }
  }

  @Test
  void read_bf16AndF16_areConvertedToF32_andIntegerBuffersSkipped() throws Exception {
    // bf16 1.5 = 0x3FC0, f16 -2.0 = 0xC000, f16 0.5 = 0x3800
    byte[] data = ByteBuffer.allocate(2 + 4 + 8).order(ByteOrder.LITTLE_ENDIAN)
        .putShort((short) 0x3FC0).putShort((short) 0xC000).putShort((short) 0x3800).putLong(7).array();
    String header = "{\"x\":{\"dtype\":\"BF16\",\"shape\":[1],\"data_offsets\":[0,2]},"
        + "\"y\":{\"dtype\":\"F16\",\"shape\":[2],\"data_offsets\":[2,6]},"
        + "\"position_ids\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[6,14]}}";
    Path f = dir.resolve("h.safetensors");
    Files.write(f, file(header, data));
    TensorMap r = Safetensors.read(f);
    assertThat(r.names()).containsExactlyInAnyOrder("x", "y");
    assertThat(r.get("x").data()).containsExactly(1.5f);
    assertThat(r.get("y").data()).containsExactly(-2.0f, 0.5f);
  }

  @Test
  void read_truncatedFile_namesTheTensorAndTheProblem() throws Exception {
    TensorMap m = new TensorMap();
    m.put("big", new Tensor(new long[] {100}, new float[100]));
    Path f = dir.resolve("t.safetensors");
    Safetensors.write(f, m, Map.of());
    byte[] all = Files.readAllBytes(f);
    Files.write(f, java.util.Arrays.copyOf(all, all.length - 10));
    assertThatThrownBy(() -> Safetensors.read(f)).isInstanceOf(WeightsException.class)
        .hasMessageContaining("'big'").hasMessageContaining("truncated");
    Files.write(f, new byte[] {1, 2, 3});
    assertThatThrownBy(() -> Safetensors.read(f)).isInstanceOf(WeightsException.class).hasMessageContaining("truncated");
  }

  @Test
  void read_garbageHeader_isAClearError() throws Exception {
    Path f = dir.resolve("g.safetensors");
    Files.write(f, file("{not json", new byte[0]));
    assertThatThrownBy(() -> Safetensors.read(f)).isInstanceOf(WeightsException.class).hasMessageContaining("JSON");
    Files.write(f, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(Long.MAX_VALUE).array());
    assertThatThrownBy(() -> Safetensors.read(f)).isInstanceOf(WeightsException.class).hasMessageContaining("header length");
  }

  @Test
  void read_sizeNotMatchingShape_isRefused() throws Exception {
    Path f = dir.resolve("s.safetensors");
    Files.write(f, file("{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", new byte[8]));
    assertThatThrownBy(() -> Safetensors.read(f)).isInstanceOf(WeightsException.class)
        .hasMessageContaining("'x'").hasMessageContaining("needs 12");
  }

  @Test
  void halfToFloat_coversSubnormalsInfinityAndNan() {
    assertThat(Safetensors.halfToFloat((short) 0x0001)).isEqualTo((float) Math.pow(2, -24));
    assertThat(Safetensors.halfToFloat((short) 0x7C00)).isEqualTo(Float.POSITIVE_INFINITY);
    assertThat(Safetensors.halfToFloat((short) 0x7E00)).isNaN();
    assertThat(Safetensors.halfToFloat((short) 0x3C00)).isEqualTo(1f);
  }

  static byte[] file(String header, byte[] data) {
    byte[] h = header.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN)
        .putLong(h.length).put(h).put(data).array();
  }
}

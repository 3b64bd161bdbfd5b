package dev.finemix.purify.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON header
 * ({@code name -> {dtype, shape, data_offsets}} plus optional {@code __metadata__}), then raw little-endian data.
 *
 * <p>F32, F64, F16 and BF16 tensors are read as FP32 (converted in Java: the engine never sees BF16); integer
 * tensors (such as {@code position_ids} buffers) are skipped. Every malformed file gets a {@link WeightsException}
 * naming the file and, where it applies, the tensor. Package-private: {@link Checkpoint} reads and writes the
 * file for everyone else.
 */
final class Safetensors {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long MAX_HEADER = 100L << 20;

  private Safetensors() {}

  /** Reads every floating-point tensor of the file. */
  static TensorMap read(Path file) {
    return read(file, null);
  }

  /** Reads the file; its {@code __metadata__} strings go into {@code metadataOut} when not null. */
  static TensorMap read(Path file, Map<String, String> metadataOut) {
    return reading(file, ch -> {
      Header h = header(ch, file);
      if (metadataOut != null) {
        metadataOut.putAll(h.metadata());
      }
      long dataLen = ch.size() - h.dataStart();
      TensorMap out = new TensorMap();
      for (Map.Entry<String, Entry> e : h.tensors().entrySet()) {
        String name = e.getKey();
        Entry t = e.getValue();
        if (t.end() > dataLen) {
          throw new WeightsException(file + ": tensor '" + name + "' data_offsets [" + t.begin() + ", " + t.end()
              + "] fall outside the " + dataLen + " data bytes (truncated file?)");
        }
        if (!t.floating()) {
          continue; // integer buffers (position_ids) carry no weights
        }
        ByteBuffer raw = ByteBuffer.allocate((int) (t.end() - t.begin())).order(ByteOrder.LITTLE_ENDIAN);
        readFully(ch, raw, h.dataStart() + t.begin(), file);
        raw.flip();
        float[] data = new float[(int) t.count()];
        switch (t.dtype()) {
          case "F32" -> raw.asFloatBuffer().get(data);
          case "F64" -> {
            for (int i = 0; i < data.length; i++) {
              data[i] = (float) raw.getDouble();
            }
          }
          case "BF16" -> {
            for (int i = 0; i < data.length; i++) {
              data[i] = Float.intBitsToFloat((raw.getShort() & 0xffff) << 16);
            }
          }
          default -> { // F16
            for (int i = 0; i < data.length; i++) {
              data[i] = halfToFloat(raw.getShort());
            }
          }
        }
        out.put(name, new Tensor(t.shape(), data));
      }
      return out;
    });
  }

  /**
   * The shape of every tensor {@link #read} would return, from the header alone: no tensor data is read, so a
   * checkpoint's shapes can be checked against its config before anything is allocated for them.
   */
  static Map<String, long[]> shapes(Path file) {
    return reading(file, ch -> {
      Map<String, long[]> out = new LinkedHashMap<>();
      header(ch, file).tensors().forEach((name, t) -> {
        if (t.floating()) {
          out.put(name, t.shape());
        }
      });
      return out;
    });
  }

  private interface ChannelRead<T> {
    T apply(FileChannel ch) throws IOException;
  }

  /** {@code read} on the file opened for reading; I/O failures become a {@link WeightsException} naming the file. */
  private static <T> T reading(Path file, ChannelRead<T> read) {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      return read.apply(ch);
    } catch (NoSuchFileException e) {
      throw new WeightsException(file + ": no such file");
    } catch (IOException e) {
      throw new WeightsException(file + ": cannot read: " + e.getMessage(), e);
    }
  }

  /** A parsed header: where the data starts, each tensor's entry in file order, and the metadata strings. */
  private record Header(long dataStart, Map<String, Entry> tensors, Map<String, String> metadata) {}

  /** One tensor's header entry: dtype, shape, element count and byte range within the data section. */
  private record Entry(String dtype, long[] shape, long count, long begin, long end) {
    boolean floating() {
      return dtype.equals("F32") || dtype.equals("F16") || dtype.equals("BF16") || dtype.equals("F64");
    }
  }

  /**
   * Reads and checks the header: each entry's dtype, shape and byte range must agree with each other. Whether the
   * ranges fit the file is {@link #read}'s check, made before it reads each tensor.
   */
  private static Header header(FileChannel ch, Path file) throws IOException {
    long fileSize = ch.size();
    if (fileSize < 8) {
      throw new WeightsException(file + ": truncated safetensors file (" + fileSize + " bytes, no header)");
    }
    ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
    readFully(ch, lenBuf, 0, file);
    long headerLen = lenBuf.flip().getLong();
    if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > fileSize) {
      throw new WeightsException(file + ": bad safetensors header length " + headerLen + " for a file of "
          + fileSize + " bytes (truncated or not a safetensors file)");
    }
    ByteBuffer hb = ByteBuffer.allocate((int) headerLen);
    readFully(ch, hb, 8, file);
    JsonNode header;
    try {
      header = JSON.readTree(new String(hb.array(), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new WeightsException(file + ": safetensors header is not valid JSON: " + e.getMessage());
    }
    if (header == null || !header.isObject()) {
      throw new WeightsException(file + ": safetensors header is not a JSON object");
    }
    Map<String, Entry> tensors = new LinkedHashMap<>();
    Map<String, String> metadata = new LinkedHashMap<>();
    for (Iterator<Map.Entry<String, JsonNode>> it = header.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      String name = e.getKey();
      JsonNode info = e.getValue();
      if (name.equals("__metadata__")) {
        if (info.isObject()) {
          info.fields().forEachRemaining(m -> metadata.put(m.getKey(), m.getValue().asText()));
        }
        continue;
      }
      String dtype = info.path("dtype").asText("");
      JsonNode shapeNode = info.get("shape");
      JsonNode offs = info.get("data_offsets");
      if (shapeNode == null || !shapeNode.isArray() || offs == null || !offs.isArray() || offs.size() != 2) {
        throw new WeightsException(file + ": tensor '" + name + "' has no valid shape/data_offsets");
      }
      long[] shape = new long[shapeNode.size()];
      long count = 1;
      for (int i = 0; i < shape.length; i++) {
        shape[i] = shapeNode.get(i).asLong(-1);
        if (shape[i] < 0) {
          throw new WeightsException(file + ": tensor '" + name + "' has a bad shape " + shapeNode);
        }
        try {
          count = Math.multiplyExact(count, shape[i]);
        } catch (ArithmeticException overflow) {
          throw new WeightsException(file + ": tensor shape overflows");
        }
      }
      long begin = offs.get(0).asLong(-1);
      long end = offs.get(1).asLong(-1);
      if (begin < 0 || end < begin) {
        throw new WeightsException(file + ": tensor '" + name + "' has bad data_offsets [" + begin + ", " + end + "]");
      }
      int width = switch (dtype) {
        case "F64", "I64", "U64" -> 8;
        case "F32", "I32", "U32" -> 4;
        case "F16", "BF16", "I16", "U16" -> 2;
        case "I8", "U8", "BOOL", "F8_E4M3", "F8_E5M2" -> 1;
        default -> throw new WeightsException(file + ": tensor '" + name + "' has unsupported dtype '" + dtype + "'");
      };
      if (count > Long.MAX_VALUE / width || end - begin != count * width) {
        throw new WeightsException(file + ": tensor '" + name + "' holds " + (end - begin) + " bytes but "
            + dtype + Arrays.toString(shape) + " needs " + (count > Long.MAX_VALUE / width ? "more" : count * width));
      }
      Entry t = new Entry(dtype, shape, count, begin, end);
      if (t.floating() && count > Integer.MAX_VALUE - 8) {
        throw new WeightsException(file + ": tensor '" + name + "' is too large (" + count + " values)");
      }
      tensors.put(name, t);
    }
    return new Header(8 + headerLen, tensors, metadata);
  }

  /**
   * Writes the tensors as F32 to {@code file} atomically: a temp file beside it, fsync, rename, then the written
   * bytes are hashed again and compared. Returns the SHA-256 of the file.
   */
  static String write(Path file, TensorMap tensors, Map<String, String> metadata) {
    Path dir = file.toAbsolutePath().getParent();
    Path tmp = dir.resolve("." + file.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
    try {
      Files.createDirectories(dir);
      String written;
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
           OutputStream os = java.nio.channels.Channels.newOutputStream(ch)) {
        written = writeTo(os, tensors, metadata);
        ch.force(true);
      }
      Files.move(tmp, file, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
          java.nio.file.StandardCopyOption.REPLACE_EXISTING);
      fsyncDir(dir);
      String reread = Hashing.sha256(file);
      if (!reread.equals(written)) {
        throw new WeightsException(file + ": verification failed after write (hash " + reread + " != " + written + ")");
      }
      return written;
    } catch (IOException e) {
      throw new WeightsException(file + ": cannot write: " + e.getMessage(), e);
    } finally {
      try {
        Files.deleteIfExists(tmp);
      } catch (IOException ignored) {
        // best effort: the temp name is unique and never read
      }
    }
  }

  /** The SHA-256 the file {@link #write} would produce, without writing anything. */
  static String hash(TensorMap tensors, Map<String, String> metadata) {
    try {
      return writeTo(OutputStream.nullOutputStream(), tensors, metadata);
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Streams the file format to {@code os}; returns the SHA-256 of the bytes written. */
  static String writeTo(OutputStream os, TensorMap tensors, Map<String, String> metadata) throws IOException {
    ObjectNode header = JSON.createObjectNode();
    if (metadata != null && !metadata.isEmpty()) {
      ObjectNode m = header.putObject("__metadata__");
      new java.util.TreeMap<>(metadata).forEach(m::put);
    }
    long offset = 0;
    Map<String, Tensor> ordered = new LinkedHashMap<>();
    for (Map.Entry<String, Tensor> e : tensors.entries()) {
      ordered.put(e.getKey(), e.getValue());
    }
    for (Map.Entry<String, Tensor> e : ordered.entrySet()) {
      ObjectNode info = header.putObject(e.getKey());
      info.put("dtype", "F32");
      var shape = info.putArray("shape");
      for (long d : e.getValue().shape()) {
        shape.add(d);
      }
      long bytes = 4L * e.getValue().size();
      info.putArray("data_offsets").add(offset).add(offset + bytes);
      offset += bytes;
    }
    byte[] hjson = JSON.writeValueAsBytes(header);
    int pad = (8 - (hjson.length % 8)) % 8;
    byte[] hbytes = Arrays.copyOf(hjson, hjson.length + pad);
    Arrays.fill(hbytes, hjson.length, hbytes.length, (byte) ' ');
    MessageDigest md = Hashing.sha256();
    try (OutputStream out = new BufferedOutputStream(new DigestOutputStream(nonClosing(os), md), 1 << 20)) {
      ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(hbytes.length);
      out.write(len.array());
      out.write(hbytes);
      ByteBuffer buf = ByteBuffer.allocate(1 << 20).order(ByteOrder.LITTLE_ENDIAN);
      for (Tensor t : ordered.values()) {
        float[] d = t.data();
        int i = 0;
        while (i < d.length) {
          buf.clear();
          int n = Math.min(d.length - i, buf.capacity() / 4);
          buf.asFloatBuffer().put(d, i, n);
          out.write(buf.array(), 0, n * 4);
          i += n;
        }
      }
    }
    return Hashing.hex(md.digest());
  }

  static float halfToFloat(short h) {
    int bits = h & 0xffff;
    int sign = (bits & 0x8000) << 16;
    int exp = (bits >>> 10) & 0x1f;
    int mant = bits & 0x3ff;
    if (exp == 0) {
      if (mant == 0) {
        return Float.intBitsToFloat(sign);
      }
      float v = mant / 1024f * (float) Math.pow(2, -14); // subnormal
      return sign != 0 ? -v : v;
    }
    if (exp == 0x1f) {
      return Float.intBitsToFloat(sign | 0x7f800000 | (mant << 13));
    }
    return Float.intBitsToFloat(sign | ((exp - 15 + 127) << 23) | (mant << 13));
  }

  private static void readFully(FileChannel ch, ByteBuffer buf, long pos, Path file) throws IOException {
    while (buf.hasRemaining()) {
      int n = ch.read(buf, pos);
      if (n < 0) {
        throw new WeightsException(file + ": truncated safetensors file (ended at byte " + pos + ")");
      }
      pos += n;
    }
  }

  static void fsyncDir(Path dir) {
    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
      d.force(true);
    } catch (IOException ignored) {
      // some file systems refuse to open directories; the rename is still atomic
    }
  }

  private static OutputStream nonClosing(OutputStream os) {
    return new java.io.FilterOutputStream(os) {
      @Override
      public void write(byte[] b, int off, int len) throws IOException {
        out.write(b, off, len);
      }

      @Override
      public void close() throws IOException {
        flush();
      }
    };
  }
}

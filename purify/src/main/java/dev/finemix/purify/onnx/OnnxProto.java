package dev.finemix.purify.onnx;

import com.google.protobuf.CodedOutputStream;
import dev.finemix.purify.weights.WeightsException;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The ONNX protobuf at the wire level: a model's graph nodes and initializers with their byte spans, and a rewrite
 * that replaces chosen initializers and copies every other byte as it was (field order, unknown fields, opsets,
 * metadata). Only the fields needed are decoded: ModelProto.graph (7); GraphProto.node (1), initializer (5);
 * NodeProto input (1), name (3), op_type (4); TensorProto dims (1), data_type (2), name (8), raw_data (9).
 */
final class OnnxProto {
  static final int FLOAT = 1;
  static final int UINT8 = 2;
  static final int INT8 = 3;

  private OnnxProto() {}

  /** One graph node: what it consumes and produces, by name. */
  record Node(String name, String opType, List<String> inputs, List<String> outputs) {}

  /**
   * One initializer: name, ONNX data type, dims, and where its bytes are in the file ({@code rawFrom..rawTo}: the
   * raw_data payload, -1 when the data sits in a typed repeated field).
   */
  record Init(String name, int dataType, long[] dims, int rawFrom, int rawTo, int floatFrom, int floatTo) {
    long size() {
      long n = 1;
      for (long d : dims) {
        n *= d;
      }
      return n;
    }
  }

  /** A parsed model: the file, the graph field's span, the graph's nodes and initializers. */
  record Model(byte[] bytes, String source, int graphFrom, int graphTo, List<Node> nodes, List<Init> inits) {
    /** The initializer's raw_data bytes; refuses one stored otherwise (typed fields, external data). */
    byte[] raw(Init i) {
      if (i.rawFrom() < 0) {
        throw new WeightsException(source + ": initializer " + i.name() + " has no raw_data");
      }
      return java.util.Arrays.copyOfRange(bytes, i.rawFrom(), i.rawTo());
    }

    /** A float initializer's values, from raw_data or a packed float_data field. */
    float[] floats(Init i) {
      int from = i.rawFrom() >= 0 ? i.rawFrom() : i.floatFrom();
      int to = i.rawFrom() >= 0 ? i.rawTo() : i.floatTo();
      if (i.dataType() != FLOAT || from < 0) {
        throw new WeightsException(source + ": initializer " + i.name() + " holds no float data");
      }
      float[] f = new float[(to - from) / 4];
      java.nio.ByteBuffer.wrap(bytes, from, to - from).order(java.nio.ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(f);
      return f;
    }
  }

  /** Parses {@code bytes}; a {@link WeightsException} naming {@code source} when it is not an ONNX model. */
  static Model parse(byte[] bytes, String source) {
    try {
      Reader top = new Reader(bytes, 0, bytes.length);
      while (top.more()) {
        int tag = top.tag();
        if (tag == (7 << 3 | 2)) {
          int len = top.length();
          int from = top.pos;
          List<Node> nodes = new ArrayList<>();
          List<Init> inits = new ArrayList<>();
          Reader g = new Reader(bytes, from, from + len);
          while (g.more()) {
            int t = g.tag();
            if (t == (1 << 3 | 2)) {
              int l = g.length();
              nodes.add(node(new Reader(bytes, g.pos, g.pos + l)));
              g.pos += l;
            } else if (t == (5 << 3 | 2)) {
              int l = g.length();
              inits.add(init(new Reader(bytes, g.pos, g.pos + l)));
              g.pos += l;
            } else {
              g.skip(t);
            }
          }
          return new Model(bytes, source, from, from + len, nodes, inits);
        }
        top.skip(tag);
      }
    } catch (RuntimeException e) {
      throw new WeightsException(source + ": cannot parse ONNX: " + e.getMessage(), e);
    }
    throw new WeightsException(source + ": not an ONNX model (no graph)");
  }

  /**
   * The model with each initializer named in {@code replacement} re-encoded as dims, data_type, name and raw_data
   * (shape and type as given; {@link Replacement#DROP} removes it), and each node named in {@code nodes} re-encoded
   * as its inputs, outputs, name and op type (no attributes, default domain); everything else byte-identical. Every
   * key must name an initializer or node.
   */
  static byte[] rewrite(Model m, Map<String, Replacement> replacement, Map<String, Node> nodes) {
    ByteArrayOutputStream graph = new ByteArrayOutputStream(m.graphTo() - m.graphFrom());
    Reader g = new Reader(m.bytes(), m.graphFrom(), m.graphTo());
    int replaced = 0;
    while (g.more()) {
      int start = g.pos;
      int t = g.tag();
      if (t == (1 << 3 | 2) && !nodes.isEmpty()) {
        int l = g.length();
        Node n = node(new Reader(m.bytes(), g.pos, g.pos + l));
        g.pos += l;
        Node r = nodes.get(n.name());
        if (r != null) {
          writeNode(graph, r);
          replaced++;
          continue;
        }
      } else if (t == (5 << 3 | 2)) {
        int l = g.length();
        Init i = init(new Reader(m.bytes(), g.pos, g.pos + l));
        g.pos += l;
        Replacement r = replacement.get(i.name());
        if (r != null) {
          if (r != Replacement.DROP) {
            writeInit(graph, i.name(), r);
          }
          replaced++;
          continue;
        }
      } else {
        g.skip(t);
      }
      graph.write(m.bytes(), start, g.pos - start);
    }
    if (replaced != replacement.size() + nodes.size()) {
      throw new IllegalStateException(m.source() + ": " + (replacement.size() + nodes.size() - replaced)
          + " replacements name no initializer or node");
    }
    byte[] gb = graph.toByteArray();
    ByteArrayOutputStream out = new ByteArrayOutputStream(m.bytes().length + gb.length - (m.graphTo() - m.graphFrom()));
    Reader top = new Reader(m.bytes(), 0, m.bytes().length);
    while (top.more()) {
      int start = top.pos;
      int tag = top.tag();
      top.skip(tag);
      if (tag == (7 << 3 | 2)) {
        writeField(out, 7, gb);
      } else {
        out.write(m.bytes(), start, top.pos - start);
      }
    }
    return out.toByteArray();
  }

  /** New contents for one initializer: ONNX data type, dims and little-endian raw bytes. */
  record Replacement(int dataType, long[] dims, byte[] raw) {
    /** Removes the initializer. */
    static final Replacement DROP = new Replacement(0, new long[0], new byte[0]);
  }

  private static void writeNode(ByteArrayOutputStream to, Node n) {
    ByteArrayOutputStream b = new ByteArrayOutputStream(256);
    try {
      CodedOutputStream c = CodedOutputStream.newInstance(b);
      for (String in : n.inputs()) {
        c.writeString(1, in);
      }
      for (String out : n.outputs()) {
        c.writeString(2, out);
      }
      c.writeString(3, n.name());
      c.writeString(4, n.opType());
      c.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    writeField(to, 1, b.toByteArray());
  }

  private static void writeInit(ByteArrayOutputStream to, String name, Replacement r) {
    ByteArrayOutputStream t = new ByteArrayOutputStream(r.raw().length + 64);
    try {
      CodedOutputStream c = CodedOutputStream.newInstance(t);
      for (long d : r.dims()) {
        c.writeInt64(1, d);
      }
      c.writeInt32(2, r.dataType());
      c.writeString(8, name);
      c.writeByteArray(9, r.raw());
      c.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    writeField(to, 5, t.toByteArray());
  }

  private static void writeField(ByteArrayOutputStream to, int field, byte[] payload) {
    try {
      CodedOutputStream c = CodedOutputStream.newInstance(to, 16);
      c.writeTag(field, 2);
      c.writeUInt32NoTag(payload.length);
      c.flush();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    to.write(payload, 0, payload.length);
  }

  private static Node node(Reader r) {
    List<String> inputs = new ArrayList<>();
    List<String> outputs = new ArrayList<>();
    String name = "";
    String op = "";
    while (r.more()) {
      int t = r.tag();
      switch (t) {
        case 1 << 3 | 2 -> inputs.add(r.string());
        case 2 << 3 | 2 -> outputs.add(r.string());
        case 3 << 3 | 2 -> name = r.string();
        case 4 << 3 | 2 -> op = r.string();
        default -> r.skip(t);
      }
    }
    return new Node(name, op, inputs, outputs);
  }

  private static Init init(Reader r) {
    List<Long> dims = new ArrayList<>();
    int type = 0;
    String name = "";
    int rawFrom = -1;
    int rawTo = -1;
    int floatFrom = -1;
    int floatTo = -1;
    while (r.more()) {
      int t = r.tag();
      if (t == (1 << 3)) {
        dims.add(r.varint());
      } else if (t == (1 << 3 | 2)) { // packed dims
        int end = r.pos + r.length();
        while (r.pos < end) {
          dims.add(r.varint());
        }
      } else if (t == (2 << 3)) {
        type = (int) r.varint();
      } else if (t == (8 << 3 | 2)) {
        name = r.string();
      } else if (t == (9 << 3 | 2) || t == (4 << 3 | 2)) { // raw_data; packed float_data
        int l = r.length();
        if (t == (9 << 3 | 2)) {
          rawFrom = r.pos;
          rawTo = r.pos + l;
        } else {
          floatFrom = r.pos;
          floatTo = r.pos + l;
        }
        r.pos += l;
      } else {
        r.skip(t);
      }
    }
    return new Init(name, type, dims.stream().mapToLong(Long::longValue).toArray(), rawFrom, rawTo, floatFrom,
        floatTo);
  }

  /** A cursor over {@code b[pos..end)}. */
  private static final class Reader {
    final byte[] b;
    int pos;
    final int end;

    Reader(byte[] b, int pos, int end) {
      this.b = b;
      this.pos = pos;
      this.end = end;
    }

    boolean more() {
      return pos < end;
    }

    long varint() {
      long v = 0;
      for (int shift = 0; shift < 64; shift += 7) {
        if (pos >= end) {
          throw new IllegalArgumentException("truncated varint at byte " + pos);
        }
        byte x = b[pos++];
        v |= (long) (x & 0x7f) << shift;
        if (x >= 0) {
          return v;
        }
      }
      throw new IllegalArgumentException("malformed varint at byte " + pos);
    }

    int tag() {
      return Math.toIntExact(varint());
    }

    int length() {
      long l = varint();
      if (l < 0 || l > end - pos) {
        throw new IllegalArgumentException("field length " + l + " past the end at byte " + pos);
      }
      return (int) l;
    }

    String string() {
      int l = length();
      String s = new String(b, pos, l, StandardCharsets.UTF_8);
      pos += l;
      return s;
    }

    void skip(int tag) {
      switch (tag & 7) {
        case 0 -> varint();
        case 1 -> advance(8);
        case 2 -> advance(length());
        case 5 -> advance(4);
        default -> throw new IllegalArgumentException("unsupported wire type " + (tag & 7) + " at byte " + pos);
      }
    }

    private void advance(int n) {
      if (n > end - pos) {
        throw new IllegalArgumentException("field past the end at byte " + pos);
      }
      pos += n;
    }
  }
}

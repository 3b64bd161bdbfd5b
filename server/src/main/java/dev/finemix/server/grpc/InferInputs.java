package dev.finemix.server.grpc;

import com.google.protobuf.ByteString;
import dev.finemix.proto.inference.InferTensorContents;
import dev.finemix.proto.inference.ModelInferRequest;
import dev.finemix.proto.inference.ModelInferRequest.InferInputTensor;
import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.errors.ServiceException.FieldViolation;
import dev.finemix.server.loading.TextRow;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * The texts of a KServe v2 ModelInferRequest, read as strictly as Classify reads its own and with the v2 field
 * names in every error: exactly the inputs the model's metadata declares ({@code text}, or {@code text_a} +
 * {@code text_b}), BYTES, shape [n] or [n, 1] with n the element count, contents xor raw_input_contents, valid
 * UTF-8, and Classify's limits (texts per request, characters per text).
 */
record InferInputs(List<TextRow> rows, List<String> fields) {
  /** The only output. */
  static final String OUTPUT = "probabilities";

  /** The input names a model declares in its metadata, in order. */
  static List<String> declared(boolean pair) {
    return pair ? List.of("text_a", "text_b") : List.of("text");
  }

  /**
   * @param pair whether the model takes sentence pairs
   * @return the rows and, per row, the request field holding it (the subject of a screening rejection)
   * @throws ServiceException INVALID_ARGUMENT naming the first bad field (every bad text when only texts are bad)
   */
  static InferInputs read(ModelInferRequest r, boolean pair, RequestValidator limits) {
    for (int j = 0; j < r.getOutputsCount(); j++) {
      if (!r.getOutputs(j).getName().equals(OUTPUT)) {
        throw ServiceException.badRequest("outputs[" + j + "].name", "is '"
            + ServiceException.shown(r.getOutputs(j).getName()) + "'; the only output is '" + OUTPUT + "'");
      }
    }
    List<String> names = declared(pair);
    if (r.getInputsCount() != names.size()) {
      throw ServiceException.badRequest("inputs", "the model takes " + names.size() + " BYTES input(s) "
          + names + ", got " + r.getInputsCount());
    }
    boolean raw = r.getRawInputContentsCount() > 0;
    if (raw && r.getRawInputContentsCount() != r.getInputsCount()) {
      throw ServiceException.badRequest("raw_input_contents", "needs one entry per input (" + r.getInputsCount()
          + "), got " + r.getRawInputContentsCount());
    }
    // by declared slot: the texts and their field names
    List<List<String>> texts = new ArrayList<>(List.of(List.of(), List.of()));
    List<List<String>> fields = new ArrayList<>(List.of(List.of(), List.of()));
    int[] inputOf = {-1, -1};
    List<FieldViolation> bad = new ArrayList<>();
    for (int i = 0; i < r.getInputsCount(); i++) {
      InferInputTensor in = r.getInputs(i);
      String f = "inputs[" + i + "]";
      int slot = names.indexOf(in.getName());
      if (slot < 0) {
        throw ServiceException.badRequest(f + ".name", "is '" + ServiceException.shown(in.getName())
            + "'; the model's inputs are " + names + " (ModelMetadata)");
      }
      if (inputOf[slot] >= 0) {
        throw ServiceException.badRequest(f + ".name", "'" + in.getName() + "' is also inputs[" + inputOf[slot] + "]");
      }
      inputOf[slot] = i;
      if (!in.getDatatype().equals("BYTES")) {
        throw ServiceException.badRequest(f + ".datatype", "must be BYTES (UTF-8 strings), got '"
            + ServiceException.shown(in.getDatatype()) + "'");
      }
      long n = elements(f + ".shape", in);
      limits.requireCount(f + ".shape", n, "elements");
      InferTensorContents c = in.getContents();
      if (!c.toBuilder().clearBytesContents().build().equals(InferTensorContents.getDefaultInstance())) {
        throw ServiceException.badRequest(f + ".contents", "a BYTES input holds bytes_contents only");
      }
      if (raw && c.getBytesContentsCount() > 0) {
        throw ServiceException.badRequest(f + ".contents", "set contents.bytes_contents or raw_input_contents,"
            + " not both");
      }
      String elementField = raw ? "raw_input_contents[" + i + "]" : f + ".contents.bytes_contents";
      List<ByteString> elements = raw ? split(elementField, r.getRawInputContents(i)) : c.getBytesContentsList();
      if (elements.size() != n) {
        throw ServiceException.badRequest(f + ".shape", "says " + n + " elements but " + (raw ? elementField
            : f + ".contents") + " holds " + elements.size());
      }
      List<String> t = new ArrayList<>(elements.size());
      List<String> fs = new ArrayList<>(elements.size());
      for (int k = 0; k < elements.size(); k++) {
        String ef = elementField + "[" + k + "]";
        ByteString b = elements.get(k);
        if (!b.isValidUtf8()) {
          bad.add(new FieldViolation(ef, "is not valid UTF-8"));
          t.add("");
        } else {
          t.add(b.toStringUtf8());
          limits.checkText(bad, ef, t.get(k));
        }
        fs.add(ef);
      }
      texts.set(slot, t);
      fields.set(slot, fs);
    }
    if (!bad.isEmpty()) {
      throw ServiceException.badRequest(bad);
    }
    List<TextRow> rows = new ArrayList<>();
    List<String> rowFields = new ArrayList<>();
    if (!pair) {
      texts.get(0).forEach(s -> rows.add(TextRow.single(s)));
      rowFields.addAll(fields.get(0));
    } else {
      List<String> a = texts.get(0);
      List<String> b = texts.get(1);
      if (a.size() != b.size()) {
        throw ServiceException.badRequest("inputs[" + inputOf[1] + "].shape", "text_b has " + b.size()
            + " elements, text_a " + a.size() + "; a pair model needs one of each per row");
      }
      for (int k = 0; k < a.size(); k++) {
        rows.add(new TextRow(a.get(k), b.get(k)));
        rowFields.add(fields.get(0).get(k) + " + " + fields.get(1).get(k));
      }
    }
    return new InferInputs(List.copyOf(rows), List.copyOf(rowFields));
  }

  /** The element count a shape declares: [n] or [n, 1], n >= 1. */
  private static long elements(String field, InferInputTensor in) {
    List<Long> s = in.getShapeList();
    if (s.isEmpty() || s.size() > 2 || (s.size() == 2 && s.get(1) != 1)) {
      throw ServiceException.badRequest(field, "must be [n] or [n, 1] for n elements, got " + s);
    }
    if (s.get(0) < 1) {
      throw ServiceException.badRequest(field, "must hold at least one element, got " + s);
    }
    return s.get(0);
  }

  /** The elements of one raw BYTES tensor: each a 4-byte little-endian length, then that many bytes. */
  private static List<ByteString> split(String field, ByteString raw) {
    ByteBuffer b = raw.asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
    List<ByteString> out = new ArrayList<>();
    while (b.hasRemaining()) {
      if (b.remaining() < 4) {
        throw ServiceException.badRequest(field, "truncated length prefix of element " + out.size());
      }
      int len = b.getInt();
      if (len < 0 || len > b.remaining()) {
        throw ServiceException.badRequest(field, "element " + out.size() + " has length " + len + " but "
            + b.remaining() + " bytes remain");
      }
      int at = raw.size() - b.remaining();
      out.add(raw.substring(at, at + len));
      b.position(b.position() + len);
    }
    return out;
  }
}

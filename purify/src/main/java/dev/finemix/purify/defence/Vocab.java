package dev.finemix.purify.defence;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;

/** The WordPiece vocabulary (id -> token) of a Hugging Face {@code tokenizer.json}. */
final class Vocab {
  private Vocab() {}

  /** Tokens by id, {@code size} long; ids missing from the file stay null. */
  static String[] read(Path tokenizerJson, int size) {
    JsonNode root;
    try {
      root = new ObjectMapper().readTree(tokenizerJson.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read tokenizer " + tokenizerJson, e);
    }
    JsonNode vocab = root.path("model").path("vocab");
    if (!vocab.isObject()) {
      throw new IllegalArgumentException(tokenizerJson + ": no model.vocab object (not a WordPiece tokenizer.json)");
    }
    String[] out = new String[size];
    for (Iterator<Map.Entry<String, JsonNode>> it = vocab.fields(); it.hasNext(); ) {
      Map.Entry<String, JsonNode> e = it.next();
      int id = e.getValue().asInt(-1);
      if (id >= 0 && id < size) out[id] = e.getKey();
    }
    return out;
  }
}

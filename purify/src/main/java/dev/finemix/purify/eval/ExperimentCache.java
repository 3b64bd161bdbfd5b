package dev.finemix.purify.eval;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;

/**
 * Content-addressed store of the experiment's trained models and evaluation results under one folder.
 *
 * <p>Every entry is keyed by the SHA-256 of a canonical JSON description of its inputs (data file hashes, settings,
 * the key of the model it starts from, the code version): same inputs, same key, so a rerun finds it. Layout:
 * {@code models/<label>-<key16>/} (a checkpoint folder plus {@code inputs.json}) and {@code results/<key>.json}.
 * Results are written atomically (temp file + rename), so an interrupted run never leaves a half entry.
 */
final class ExperimentCache {

  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private final Path root;

  ExperimentCache(Path root) {
    this.root = Objects.requireNonNull(root, "root").toAbsolutePath();
  }

  Path root() {
    return root;
  }

  /** SHA-256 (hex) of the inputs' canonical form: keys sorted at every level, compact. */
  static String key(JsonNode inputs) {
    try {
      byte[] canon = new ObjectMapper().writeValueAsBytes(sorted(inputs));
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(canon));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }

  private static Object sorted(JsonNode n) {
    if (n.isObject()) {
      Map<String, Object> m = new TreeMap<>();
      for (Map.Entry<String, JsonNode> e : n.properties()) {
        m.put(e.getKey(), sorted(e.getValue()));
      }
      return m;
    }
    if (n.isArray()) {
      java.util.List<Object> l = new java.util.ArrayList<>();
      n.forEach(c -> l.add(sorted(c)));
      return l;
    }
    return n;
  }

  /** The folder for a model: {@code models/<label>-<first 16 hex of key>}. */
  Path modelDir(String label, String key) {
    if (!label.matches("[A-Za-z0-9_.-]+")) {
      throw new IllegalArgumentException("model label must be [A-Za-z0-9_.-]+, got '" + label + "'");
    }
    return root.resolve("models").resolve(label + "-" + key.substring(0, 16));
  }

  /** Whether a finished model lies in {@code dir} (the marker is written last). */
  static boolean hasModel(Path dir) {
    return Files.isRegularFile(dir.resolve("inputs.json")) && Files.isRegularFile(dir.resolve("model.safetensors"));
  }

  /** Marks a model folder finished by writing its inputs next to the checkpoint. */
  static void markModel(Path dir, JsonNode inputs) {
    writeAtomic(dir.resolve("inputs.json"), inputs);
  }

  Optional<ObjectNode> result(String key) {
    Path f = resultFile(key);
    if (!Files.isRegularFile(f)) {
      return Optional.empty();
    }
    try {
      return Optional.of((ObjectNode) JSON.readTree(f.toFile()));
    } catch (IOException | ClassCastException e) {
      return Optional.empty(); // unreadable entry: recompute and overwrite
    }
  }

  void putResult(String key, ObjectNode value) {
    writeAtomic(resultFile(key), value);
  }

  private Path resultFile(String key) {
    return root.resolve("results").resolve(key + ".json");
  }

  static void writeAtomic(Path file, JsonNode value) {
    try {
      writeAtomic(file, JSON.writeValueAsString(value) + "\n");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }

  static void writeAtomic(Path file, String text) {
    try {
      Files.createDirectories(file.toAbsolutePath().getParent());
      Path tmp = Files.createTempFile(file.toAbsolutePath().getParent(), "." + file.getFileName(), ".tmp");
      Files.writeString(tmp, text, StandardCharsets.UTF_8);
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write " + file, e);
    }
  }
}

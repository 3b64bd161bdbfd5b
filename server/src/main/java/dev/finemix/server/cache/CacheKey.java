package dev.finemix.server.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.server.config.Json;
import dev.finemix.server.loading.ModelBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * What a purification depends on, each part by content: the cache key of its purified weights. Paths never enter
 * it, so the same files under another data root give the same key, and a rewritten file gives a new one. The
 * server ({@code ModelManager}) and {@code finemix purify --cache-dir} both build it with {@link #of}, so an entry
 * written by either is found by the other.
 *
 * @param suspect SHA-256 over the suspect checkpoint's files ({@link #CHECKPOINT_FILES})
 * @param pretrained {@link ModelBackend#pretrainedSha256} of the pre-trained model mixed towards
 * @param clean SHA-256 of the labelled clean subset
 * @param unlabelled SHA-256 of the unlabelled subset, or "none"
 * @param wordFrequencies SHA-256 of the word-count file of the settings, or "none"
 * @param settings the canonical defence settings JSON without the word-count file's path
 * @param codeVersion {@link ModelBackend#codeVersion}
 */
public record CacheKey(String suspect, String pretrained, String clean, String unlabelled, String wordFrequencies,
    String settings, String codeVersion) {
  /** The settings key holding a file path: the file enters the key by content instead. */
  static final String WORD_FREQUENCIES = "word_frequencies";
  static final String NONE = "none";

  public CacheKey {
    Objects.requireNonNull(suspect, "suspect");
    Objects.requireNonNull(pretrained, "pretrained");
    Objects.requireNonNull(clean, "clean");
    Objects.requireNonNull(unlabelled, "unlabelled");
    Objects.requireNonNull(wordFrequencies, "wordFrequencies");
    Objects.requireNonNull(settings, "settings");
    Objects.requireNonNull(codeVersion, "codeVersion");
  }

  /**
   * Hashes every input of one purification.
   *
   * @param suspectDir the suspect checkpoint folder
   * @param baseModel the pre-trained model id or folder, as the backend takes it
   * @param clean the labelled clean subset
   * @param unlabelled the unlabelled subset, or null
   * @param settings defence settings; normalised here by the backend, so callers may pass any layer of them
   * @throws IllegalArgumentException for settings the backend refuses
   */
  public static CacheKey of(ModelBackend backend, Path suspectDir, String baseModel, Path clean, Path unlabelled,
      ObjectNode settings) {
    ObjectNode s = backend.normalizeSettings(settings).deepCopy();
    JsonNode wf = s.remove(WORD_FREQUENCIES);
    return new CacheKey(checkpointSha256(suspectDir), backend.pretrainedSha256(baseModel), Sha256.file(clean),
        unlabelled == null ? NONE : Sha256.file(unlabelled),
        wf == null || wf.isNull() ? NONE : Sha256.file(Path.of(wf.asText())), Json.canonicalString(s),
        backend.codeVersion());
  }

  /** The files of a checkpoint folder that shape a purification (weights, config with labels, tokenizer, side file). */
  static final String[] CHECKPOINT_FILES = {Checkpoint.WEIGHTS, Checkpoint.CONFIG, Checkpoint.TOKENIZER,
      Checkpoint.META};

  /** SHA-256 over {@link #CHECKPOINT_FILES} by name and content (absent files count as absent). */
  static String checkpointSha256(Path dir) {
    String[] lines = new String[CHECKPOINT_FILES.length];
    for (int i = 0; i < lines.length; i++) {
      Path f = dir.resolve(CHECKPOINT_FILES[i]);
      lines[i] = CHECKPOINT_FILES[i] + " " + (Files.isRegularFile(f) ? Sha256.file(f) : NONE);
    }
    return Sha256.ofLines(lines);
  }

  /** The key: 64 lower-case hex digits, the name of the entry's folder. */
  public String hex() {
    return Sha256.ofLines("finemix-purified-v2", "suspect " + suspect, "pretrained " + pretrained, "clean " + clean,
        "unlabelled " + unlabelled, "word_frequencies " + wordFrequencies, "settings " + settings,
        "code " + codeVersion);
  }
}

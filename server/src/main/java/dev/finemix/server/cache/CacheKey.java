package dev.finemix.server.cache;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.server.config.Json;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * What a purification depends on, each part by content: the cache key of its purified weights. Paths never enter
 * it, so the same files under another data root give the same key, and a rewritten file gives a new one. The
 * server and {@code finemix purify --cache-dir} both build it from the inputs they read once
 * ({@code loading.LoadInputs#key}: the hashes are of the very bytes purified), so an entry written by either is found
 * by the other.
 *
 * @param suspect SHA-256 over the suspect checkpoint's files ({@link #checkpointSha256})
 * @param pretrained SHA-256 identifying the pre-trained model mixed towards (the backend's)
 * @param clean SHA-256 of the labelled clean subset
 * @param unlabelled SHA-256 of the unlabelled subset, or {@link #NONE}
 * @param wordFrequencies SHA-256 of the word-count file of the settings, or {@link #NONE}
 * @param settings {@link #settings}: the canonical defence settings JSON without the word-count file's path
 * @param codeVersion the backend's version of the defence code
 */
public record CacheKey(String suspect, String pretrained, String clean, String unlabelled, String wordFrequencies,
    String settings, String codeVersion) {
  /** The settings key holding a file path: the file enters the key by content instead. */
  public static final String WORD_FREQUENCIES = "word_frequencies";
  /** The part of an input that is not there (no unlabelled subset, no word counts). */
  public static final String NONE = "none";

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
   * The settings part: the complete settings' canonical JSON without the word-count file's path, which enters the
   * key by content ({@link #wordFrequencies}).
   *
   * @param complete every setting, defaults filled in (purify's {@code DefenceSettings.toJson()}), so equal settings
   *     give equal keys
   */
  public static String settings(ObjectNode complete) {
    ObjectNode s = complete.deepCopy();
    s.remove(WORD_FREQUENCIES);
    return Json.canonicalString(s);
  }

  /** The files of a checkpoint folder that shape a purification (weights, config with labels, tokenizer, side file). */
  static final String[] CHECKPOINT_FILES = {Checkpoint.WEIGHTS, Checkpoint.CONFIG, Checkpoint.TOKENIZER,
      Checkpoint.META};

  /**
   * SHA-256 over {@link #CHECKPOINT_FILES} by name and content (absent files count as absent); the weights by
   * {@code weightsSha256}, the hash of the weights the caller read and will purify (not hashed again).
   */
  public static String checkpointSha256(Path dir, String weightsSha256) {
    String[] lines = new String[CHECKPOINT_FILES.length];
    for (int i = 0; i < lines.length; i++) {
      Path f = dir.resolve(CHECKPOINT_FILES[i]);
      String sha = CHECKPOINT_FILES[i].equals(Checkpoint.WEIGHTS) ? weightsSha256
          : Files.isRegularFile(f) ? Sha256.file(f) : NONE;
      lines[i] = CHECKPOINT_FILES[i] + " " + sha;
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

package dev.finemix.server.loading;

import dev.finemix.purify.weights.Hashing;
import dev.finemix.server.errors.ServiceException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.function.BiFunction;

/**
 * A data file read once: where it lies, the SHA-256 of the bytes read (its part of the cache key) and what those
 * same bytes parsed to, so the key always names the content that was purified.
 *
 * @param <T> the parsed form (purify's {@code Dataset}, {@code WordFrequencies})
 */
public record InputFile<T>(Path path, String sha256, T content) {
  /** Larger data files are refused rather than read into memory (clean subsets are rows, word counts a vocabulary). */
  static final long MAX_BYTES = 1L << 30;

  public InputFile {
    Objects.requireNonNull(path, "path");
    Objects.requireNonNull(sha256, "sha256");
    Objects.requireNonNull(content, "content");
  }

  /**
   * Reads {@code path} once, hashes and parses the bytes.
   *
   * @param field the request field named in errors
   * @param parse purify's parser for the bytes of the file (it names the file and line of a bad row)
   * @throws ServiceException INVALID_ARGUMENT naming {@code field} when the file cannot be read or parsed
   */
  static <T> InputFile<T> read(String field, Path path, BiFunction<Path, byte[], T> parse) {
    byte[] bytes;
    try {
      long size = Files.size(path);
      if (size > MAX_BYTES) {
        throw ServiceException.badRequest(field, path.getFileName() + " has " + size + " bytes; at most " + MAX_BYTES
            + " are read");
      }
      bytes = Files.readAllBytes(path);
    } catch (IOException e) {
      throw ServiceException.badRequest(field, "cannot read " + path.getFileName() + ": " + e.getMessage());
    }
    T content;
    try {
      content = parse.apply(path, bytes);
    } catch (RuntimeException e) {
      throw ServiceException.badRequest(field, e.getMessage());
    }
    return new InputFile<>(path, Hashing.sha256(bytes), content);
  }
}

package dev.finemix.server.cache;

import dev.finemix.purify.weights.Hashing;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;

/** SHA-256 helpers for the cache, hex lower case; file hashing is purify's {@link Hashing}. */
public final class Sha256 {
  private Sha256() {
  }

  public static String file(Path file) {
    return Hashing.sha256(file);
  }

  /** Hash of the strings, each followed by a newline (so ("ab","c") and ("a","bc") differ). */
  public static String ofLines(String... parts) {
    MessageDigest md = Hashing.sha256();
    for (String p : parts) {
      md.update(p.getBytes(StandardCharsets.UTF_8));
      md.update((byte) '\n');
    }
    return Hashing.hex(md.digest());
  }
}

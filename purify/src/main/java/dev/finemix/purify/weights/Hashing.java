package dev.finemix.purify.weights;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** SHA-256 helpers; every hash in finemix is lower-case hex SHA-256. */
public final class Hashing {
  private Hashing() {}

  public static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 unavailable", e);
    }
  }

  public static String sha256(Path file) {
    MessageDigest md = sha256();
    byte[] buf = new byte[1 << 16];
    try (InputStream in = Files.newInputStream(file)) {
      int n;
      while ((n = in.read(buf)) > 0) {
        md.update(buf, 0, n);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot hash " + file + ": " + e.getMessage(), e);
    }
    return hex(md.digest());
  }

  public static String sha256(byte[]... parts) {
    MessageDigest md = sha256();
    for (byte[] p : parts) {
      md.update(p);
    }
    return hex(md.digest());
  }

  /** Hash of several strings, each length-prefixed so that ("ab","c") and ("a","bc") differ. */
  public static String sha256Strings(String... parts) {
    MessageDigest md = sha256();
    for (String p : parts) {
      byte[] b = p.getBytes(java.nio.charset.StandardCharsets.UTF_8);
      md.update(java.nio.ByteBuffer.allocate(4).putInt(b.length).array());
      md.update(b);
    }
    return hex(md.digest());
  }

  public static String hex(byte[] digest) {
    return HexFormat.of().formatHex(digest);
  }
}

package dev.finemix.lab;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** The demo's bundled rows ({@code /demo/*.tsv} of this module's jar; their origin is in {@code demo/README.md}). */
public final class DemoFiles {
  private DemoFiles() {}

  /**
   * Writes the bundled demo file {@code /demo/<name>} to {@code to}, unless {@code to} already holds exactly those
   * bytes.
   */
  public static void copy(String name, Path to) throws IOException {
    try (InputStream in = DemoFiles.class.getResourceAsStream("/demo/" + name)) {
      if (in == null) {
        throw new IllegalStateException("the bundled demo rows /demo/" + name + " are missing from the jar");
      }
      byte[] b = in.readAllBytes();
      if (!Files.exists(to) || !Arrays.equals(Files.readAllBytes(to), b)) {
        Files.write(to, b);
      }
    }
  }
}

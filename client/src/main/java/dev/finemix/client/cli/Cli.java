package dev.finemix.server.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/** JSON output and bundled demo files shared by the commands (errors are reported by {@link Main}). */
final class CliSupport {

  static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

  private CliSupport() {}

  /**
   * Writes the bundled demo file {@code /demo/<name>} of the jar to {@code to}, unless {@code to} already holds
   * exactly those bytes.
   */
  static void copyDemoFile(String name, Path to) throws IOException {
    try (InputStream in = CliSupport.class.getResourceAsStream("/demo/" + name)) {
      if (in == null) {
        throw new IllegalStateException("the bundled demo rows /demo/" + name + " are missing from the jar");
      }
      byte[] b = in.readAllBytes();
      if (!Files.exists(to) || !Arrays.equals(Files.readAllBytes(to), b)) {
        Files.write(to, b);
      }
    }
  }

  /**
   * The shared word counts for E-PUR: {@code $FINEMIX_WORDFREQ} when it names a file, else
   * {@code <finemix.shared>/data/wordfreq/en.tsv} ({@code -Dfinemix.shared}, default {@code ../shared}) when present,
   * else null (E-PUR then ranks by embedding shift alone).
   */
  static Path sharedWordFrequencies() {
    String env = System.getenv("FINEMIX_WORDFREQ");
    if (env != null && !env.isBlank() && Files.isRegularFile(Path.of(env))) return Path.of(env);
    Path p = Path.of(System.getProperty("finemix.shared", "../shared"), "data", "wordfreq", "en.tsv");
    return Files.isRegularFile(p) ? p : null;
  }

  static String json(JsonNode n) {
    try {
      return JSON.writeValueAsString(n);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}

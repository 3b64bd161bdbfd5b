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

  static String json(JsonNode n) {
    try {
      return JSON.writeValueAsString(n);
    } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
      throw new IllegalStateException(e);
    }
  }
}

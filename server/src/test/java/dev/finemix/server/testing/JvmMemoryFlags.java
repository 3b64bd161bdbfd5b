package dev.finemix.server.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The memory bounds a JVM option string sets, as the JVM computes them: heap from {@code -Xmx} or
 * {@code -XX:MaxRAMPercentage} of the memory it sees (the container limit), 25% of it when neither is set; direct
 * buffers from {@code -XX:MaxDirectMemorySize}, else as much as the heap. Also reads the image's defaults from
 * deploy/Dockerfile.
 */
public record JvmMemoryFlags(List<String> options) {
  public static final Path DOCKERFILE = Path.of("..", "deploy", "Dockerfile");

  public static JvmMemoryFlags parse(String javaOptions) {
    return new JvmMemoryFlags(Arrays.stream(javaOptions.trim().split("\\s+")).filter(s -> !s.isEmpty()).toList());
  }

  /** The JAVA_TOOL_OPTIONS the image sets. */
  public static JvmMemoryFlags ofImage() {
    return parse(dockerEnv("JAVA_TOOL_OPTIONS"));
  }

  /** A variable of the Dockerfile's ENV lines (quotes removed), or null. */
  public static String dockerEnv(String name) {
    String text;
    try {
      text = Files.readString(DOCKERFILE).replace("\\\n", " ");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    Matcher m = Pattern.compile("(?m)^ENV .*?\\b" + name + "=(\"[^\"]*\"|\\S+)").matcher(text);
    return m.find() ? m.group(1).replace("\"", "") : null;
  }

  /** The value of {@code -XX:name=v} or null. */
  public String xx(String name) {
    String p = "-XX:" + name + "=";
    return options.stream().filter(o -> o.startsWith(p)).reduce((a, b) -> b).map(o -> o.substring(p.length()))
        .orElse(null);
  }

  /** The maximum heap in bytes for a JVM that sees {@code ramBytes} of memory. */
  public long heapBytes(long ramBytes) {
    String xmx = options.stream().filter(o -> o.startsWith("-Xmx")).reduce((a, b) -> b).orElse(null);
    if (xmx != null) {
      return bytes(xmx.substring(4));
    }
    String pct = xx("MaxRAMPercentage");
    return (long) (ramBytes * (pct == null ? 25.0 : Double.parseDouble(pct)) / 100);
  }

  /** The most direct-buffer memory in bytes (DJL holds the weights it is handed from Java there). */
  public long directBytes(long ramBytes) {
    String d = xx("MaxDirectMemorySize");
    return d == null ? heapBytes(ramBytes) : bytes(d);
  }

  /** {@code 512m}, {@code 1g}, {@code 1536M}, plain bytes. */
  public static long bytes(String v) {
    String s = v.trim().toLowerCase(Locale.ROOT);
    long unit = switch (s.charAt(s.length() - 1)) {
      case 'k' -> 1L << 10;
      case 'm' -> 1L << 20;
      case 'g' -> 1L << 30;
      default -> 1;
    };
    return Long.parseLong(unit == 1 ? s : s.substring(0, s.length() - 1)) * unit;
  }
}

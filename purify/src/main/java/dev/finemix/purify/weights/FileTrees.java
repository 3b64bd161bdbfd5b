package dev.finemix.purify.weights;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/** Deleting folder trees (temp and work folders of atomic writes, stale cache entries). */
public final class FileTrees {
  private FileTrees() {}

  /** Deletes {@code p} and everything below it; absent is fine. Callers choose what a failure means. */
  public static void delete(Path p) throws IOException {
    if (p == null || !Files.exists(p)) {
      return;
    }
    try (Stream<Path> s = Files.walk(p)) {
      for (Path f : s.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(f);
      }
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /** {@link #delete}, ignoring failures: for temp leftovers whose names are unique and never read. */
  public static void deleteQuietly(Path p) {
    try {
      delete(p);
    } catch (IOException ignored) {
      // best effort
    }
  }
}

package dev.finemix.server.cache;

import dev.finemix.purify.weights.FileTrees;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Purified weights on disk, one folder per cache key. Entries are written atomically (a work folder inside the
 * cache root, every file fsynced, a manifest of file hashes, one rename) and verified against the manifest before
 * every use: a mismatch discards the entry, logs it and counts it, and the caller rebuilds. The total size is
 * bounded; the least recently used entries are evicted first.
 */
public final class PurifiedCache {
  private static final Logger LOG = Logger.getLogger(PurifiedCache.class.getName());
  private static final String MANIFEST = "finemix-cache.json";
  private static final String WORK_PREFIX = ".work-";
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Counts cache events (metrics). */
  public interface Listener {
    Listener NONE = new Listener() { };

    default void hit() { }

    default void miss() { }

    default void corrupt(String key, String why) { }

    default void evicted(String key) { }
  }

  /**
   * One verified entry.
   *
   * @param key the cache key
   * @param dir the purified checkpoint folder
   * @param weightsSha256 SHA-256 of its model.safetensors
   * @param report the defence report that produced it
   * @param suspectedTokens the candidate triggers the defence found
   */
  public record Entry(String key, Path dir, String weightsSha256, ObjectNode report, List<String> suspectedTokens) {
  }

  private final Path root;
  private final long maxBytes;
  private final Clock clock;
  private final Listener listener;

  /**
   * @param root the cache folder (created if absent)
   * @param maxBytes total size bound; entries beyond it are evicted least recently used first
   */
  public PurifiedCache(Path root, long maxBytes, Clock clock, Listener listener) {
    if (maxBytes <= 0) {
      throw new IllegalArgumentException("maxBytes must be > 0, got " + maxBytes);
    }
    this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
    this.maxBytes = maxBytes;
    this.clock = Objects.requireNonNull(clock, "clock");
    this.listener = Objects.requireNonNull(listener, "listener");
    try {
      Files.createDirectories(this.root);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the cache folder " + root, e);
    }
    removeLeftoverWork();
  }

  /**
   * The cache key: SHA-256 over the suspect weights hash, the pre-trained weights hash, the clean subset hash,
   * the canonical defence settings JSON and the code version.
   */
  public static String key(String suspectSha256, String pretrainedSha256, String cleanSha256, String settingsJson,
      String codeVersion) {
    return Sha256.ofLines("finemix-purified-v1", suspectSha256, pretrainedSha256, cleanSha256, settingsJson,
        codeVersion);
  }

  public Path root() {
    return root;
  }

  /** The verified entry for {@code key}, or empty (absent or found corrupt and discarded). */
  public synchronized Optional<Entry> get(String key) {
    requireKey(key);
    Path dir = root.resolve(key);
    if (!Files.isDirectory(dir)) {
      listener.miss();
      return Optional.empty();
    }
    try {
      JsonNode manifest = JSON.readTree(dir.resolve(MANIFEST).toFile());
      if (!key.equals(manifest.path("key").asText())) {
        return discard(key, dir, "manifest names key " + manifest.path("key").asText());
      }
      JsonNode files = manifest.path("files");
      if (!files.isObject() || files.isEmpty() || !files.has("model.safetensors")) {
        return discard(key, dir, "manifest lists no model.safetensors");
      }
      var it = files.fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> f = it.next();
        Path file = dir.resolve(f.getKey()).normalize();
        if (!file.startsWith(dir) || !Files.isRegularFile(file)) {
          return discard(key, dir, "file " + f.getKey() + " is missing");
        }
        String actual = Sha256.file(file);
        if (!actual.equals(f.getValue().asText())) {
          return discard(key, dir, "file " + f.getKey() + " has SHA-256 " + actual + ", manifest says "
              + f.getValue().asText());
        }
      }
      Files.setLastModifiedTime(dir, FileTime.from(clock.instant()));
      List<String> tokens = new ArrayList<>();
      manifest.path("suspected_tokens").forEach(t -> tokens.add(t.asText()));
      ObjectNode report = manifest.path("report") instanceof ObjectNode o ? o : JSON.createObjectNode();
      listener.hit();
      return Optional.of(new Entry(key, dir, files.get("model.safetensors").asText(), report, tokens));
    } catch (IOException | RuntimeException e) {
      return discard(key, dir, "unreadable: " + e.getMessage());
    }
  }

  /** A fresh empty folder inside the cache root for a purification to write into; pass it to {@link #commit}. */
  public Path newWorkDir() {
    try {
      return Files.createDirectory(root.resolve(WORK_PREFIX + UUID.randomUUID()));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create a work folder in " + root, e);
    }
  }

  /** Deletes a work folder that will not be committed (a failed purification). */
  public void abandon(Path workDir) {
    deleteTree(workDir);
  }

  /**
   * Makes a work folder the entry for {@code key}: fsyncs every file, writes the manifest, renames atomically,
   * then evicts least-recently-used entries beyond the size bound (never this one).
   */
  public synchronized Entry commit(String key, Path workDir, ObjectNode report, List<String> suspectedTokens) {
    requireKey(key);
    if (!workDir.toAbsolutePath().normalize().getParent().equals(root)
        || !workDir.getFileName().toString().startsWith(WORK_PREFIX)) {
      throw new IllegalArgumentException("not a work folder of this cache: " + workDir);
    }
    try {
      TreeMap<String, String> hashes = new TreeMap<>();
      try (Stream<Path> files = Files.walk(workDir)) {
        for (Path f : files.filter(Files::isRegularFile).toList()) {
          fsync(f);
          hashes.put(workDir.relativize(f).toString().replace('\\', '/'), Sha256.file(f));
        }
      }
      if (!hashes.containsKey("model.safetensors")) {
        throw new IllegalArgumentException("the purified checkpoint in " + workDir + " has no model.safetensors");
      }
      ObjectNode manifest = JSON.createObjectNode();
      manifest.put("key", key);
      manifest.put("created", clock.instant().toString());
      ObjectNode files = manifest.putObject("files");
      hashes.forEach(files::put);
      ArrayNode tokens = manifest.putArray("suspected_tokens");
      suspectedTokens.forEach(tokens::add);
      manifest.set("report", report == null ? JSON.createObjectNode() : report);
      Path manifestFile = workDir.resolve(MANIFEST);
      JSON.writerWithDefaultPrettyPrinter().writeValue(manifestFile.toFile(), manifest);
      fsync(manifestFile);
      fsync(workDir);
      Path target = root.resolve(key);
      if (Files.exists(target)) {
        deleteTree(target); // a stale or corrupt older entry of the same key
      }
      try {
        Files.move(workDir, target, StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException | FileAlreadyExistsException e) {
        throw new IOException("cannot rename " + workDir + " to " + target + " atomically", e);
      }
      fsync(root);
      Files.setLastModifiedTime(target, FileTime.from(clock.instant()));
      evictBeyondBound(key);
      return new Entry(key, target, hashes.get("model.safetensors"), report, List.copyOf(suspectedTokens));
    } catch (IOException e) {
      deleteTree(workDir);
      throw new UncheckedIOException("cannot store the purified weights for key " + key, e);
    }
  }

  /** Total bytes of all entries. */
  public synchronized long sizeBytes() {
    return entries().stream().mapToLong(PurifiedCache::treeSize).sum();
  }

  /** Keys of the entries now on disk. */
  public synchronized List<String> keys() {
    return entries().stream().map(p -> p.getFileName().toString()).sorted().toList();
  }

  private void evictBeyondBound(String keep) {
    List<Path> all = new ArrayList<>(entries());
    long total = all.stream().mapToLong(PurifiedCache::treeSize).sum();
    all.sort(Comparator.comparing(PurifiedCache::modified));
    for (Path p : all) {
      if (total <= maxBytes) {
        return;
      }
      if (p.getFileName().toString().equals(keep)) {
        continue;
      }
      long size = treeSize(p);
      deleteTree(p);
      total -= size;
      listener.evicted(p.getFileName().toString());
      LOG.info(() -> "purified cache: evicted " + p.getFileName() + " (" + size + " bytes) to stay under "
          + maxBytes + " bytes");
    }
  }

  private List<Path> entries() {
    List<Path> out = new ArrayList<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root)) {
      for (Path p : ds) {
        if (Files.isDirectory(p) && !p.getFileName().toString().startsWith(".")) { // work and temp folders start with '.'
          out.add(p);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list the cache folder " + root, e);
    }
    return out;
  }

  private Optional<Entry> discard(String key, Path dir, String why) {
    LOG.warning(() -> "purified cache: entry " + key + " failed verification (" + why + "); discarding it, it will"
        + " be rebuilt");
    listener.corrupt(key, why);
    deleteTree(dir);
    return Optional.empty();
  }

  private void removeLeftoverWork() {
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root, ".*")) { // work folders and writers' temp folders
      for (Path p : ds) {
        if (Files.isDirectory(p)) {
          deleteTree(p);
        }
      }
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot clean leftover work folders in " + root, e);
    }
  }

  private static void requireKey(String key) {
    if (key == null || !key.matches("[0-9a-f]{64}")) {
      throw new IllegalArgumentException("a cache key is 64 lower-case hex digits, got " + key);
    }
  }

  private static FileTime modified(Path p) {
    try {
      return Files.getLastModifiedTime(p);
    } catch (IOException e) {
      return FileTime.fromMillis(0);
    }
  }

  private static long treeSize(Path p) {
    try (Stream<Path> s = Files.walk(p)) {
      return s.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
    } catch (IOException | UncheckedIOException e) {
      return 0;
    }
  }

  private static void fsync(Path p) throws IOException {
    if (Files.isDirectory(p)) {
      try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
        ch.force(true);
      } catch (IOException e) {
        // some file systems cannot fsync a directory; the rename is still atomic
      }
      return;
    }
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
      ch.force(true);
    }
  }

  static void deleteTree(Path p) {
    try {
      FileTrees.delete(p);
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot delete " + p, e);
    }
  }

}

package dev.finemix.server.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.weights.FileTrees;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * Purified weights on disk, one folder per cache key, safe for many processes sharing the folder (the replicas of a
 * Deployment on one ReadWriteMany volume, a purify Job).
 *
 * <p>Entries are written atomically (a work folder inside the cache root, every file fsynced, a manifest of file
 * hashes, one rename) and verified against the manifest before every use: a mismatch discards the entry, logs it and
 * counts it, and the caller rebuilds. The total size is bounded; the least recently used entries are evicted first.
 *
 * <p>Writers coordinate through lease files created with create-new (atomic on local disks and NFS alike; POSIX
 * advisory locks are not used since they are unreliable on network volumes): {@code .key-<key>.lease} while a key is
 * purified, {@code .work-<id>.lease} for each work folder. The owner rewrites its leases every heartbeat. A lease is
 * stale when the observer has seen it unchanged for {@link Leases#staleAfter} on its own clock, so the nodes' clocks
 * need not agree. {@link #obtain} purifies each key once for the fleet: a second process waits for the entry while
 * the owner's lease lives, and takes over when it goes stale (the owner died). {@link #sweep} removes only stale work.
 */
public final class PurifiedCache implements AutoCloseable {
  private static final Logger LOG = Logger.getLogger(PurifiedCache.class.getName());
  private static final String MANIFEST = "finemix-cache.json";
  private static final String WORK_PREFIX = ".work-";
  private static final String KEY_PREFIX = ".key-";
  private static final String TRASH_PREFIX = ".trash-";
  private static final String LEASE_SUFFIX = ".lease";
  private static final long NOTE_EVERY_MILLIS = 10_000;
  private static final ObjectMapper JSON = new ObjectMapper();

  /** Counts cache events (metrics). */
  public interface Listener {
    Listener NONE = new Listener() { };

    default void hit() { }

    default void miss() { }

    default void corrupt(String key, String why) { }

    default void evicted(String key) { }
  }

  /** Waits between polls; tests pass one that advances a fake clock. */
  @FunctionalInterface
  public interface Sleeper {
    Sleeper REAL = d -> Thread.sleep(d.toMillis());

    void sleep(Duration d) throws InterruptedException;
  }

  /**
   * Timing of the leases.
   *
   * @param staleAfter a lease (or work folder) seen unchanged this long belongs to a dead writer
   * @param heartbeat how often owners rewrite their leases and sweep stale work; well below staleAfter
   * @param poll how often a waiter looks for the entry
   * @param maxWait a waiter whose owner is alive but has not finished after this long purifies the key itself
   * @param sleeper how a waiter waits between polls
   */
  public record Leases(Duration staleAfter, Duration heartbeat, Duration poll, Duration maxWait, Sleeper sleeper) {
    public Leases {
      Objects.requireNonNull(sleeper, "sleeper");
      if (heartbeat.isNegative() || heartbeat.isZero() || staleAfter.compareTo(heartbeat.multipliedBy(3)) < 0) {
        throw new IllegalArgumentException("the lease heartbeat must be > 0 and at most a third of staleAfter, got "
            + heartbeat + " and " + staleAfter);
      }
      if (poll.isNegative() || poll.isZero() || maxWait.compareTo(staleAfter) < 0) {
        throw new IllegalArgumentException("poll must be > 0 and maxWait >= staleAfter, got " + poll + " and "
            + maxWait);
      }
    }

    /** 60 s to stale, a heartbeat every 10 s, a poll every second, an alive owner waited for up to 2 hours. */
    public static Leases defaults() {
      return new Leases(Duration.ofSeconds(60), Duration.ofSeconds(10), Duration.ofSeconds(1), Duration.ofHours(2),
          Sleeper.REAL);
    }
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

  /**
   * The entry {@link #obtain} returns.
   *
   * @param built true when this process purified it, false when it was in the cache or another process wrote it
   */
  public record Obtained(Entry entry, boolean built) {
  }

  /**
   * What a builder leaves beside the purified checkpoint, for the entry's manifest.
   *
   * @param report the defence report as JSON (kept as it is; the cache does not read it)
   * @param suspectedTokens the candidate triggers the defence found, most suspicious first
   */
  public record Built(ObjectNode report, List<String> suspectedTokens) {
    public Built {
      suspectedTokens = List.copyOf(suspectedTokens);
    }
  }

  /** Purifies into an empty work folder inside the cache (the folder {@link #obtain} then commits). */
  @FunctionalInterface
  public interface Builder {
    Built build(Path workDir) throws Exception;
  }

  /** A lease file this process holds. */
  private static final class Lease {
    final Path file;
    long beats;

    Lease(Path file) {
      this.file = file;
    }
  }

  private record Seen(String stamp, long sinceMillis) {
  }

  private final Path root;
  private final long maxBytes;
  private final Clock clock;
  private final Listener listener;
  private final Leases leases;
  private final String owner;
  private final Map<Path, Lease> owned = new ConcurrentHashMap<>();
  /** What {@link #sweep} saw of other writers' files, and since when. */
  private final Map<Path, Seen> seen = new HashMap<>();
  private final ScheduledExecutorService heartbeat;

  /** A cache with {@link Leases#defaults()}, owned by this host and process. */
  public PurifiedCache(Path root, long maxBytes, Clock clock, Listener listener) {
    this(root, maxBytes, clock, listener, Leases.defaults(), defaultOwner());
  }

  /**
   * @param root the cache folder (created if absent)
   * @param maxBytes total size bound; entries beyond it are evicted least recently used first
   * @param owner names this writer in its leases and in other writers' "waiting for" messages
   */
  public PurifiedCache(Path root, long maxBytes, Clock clock, Listener listener, Leases leases, String owner) {
    if (maxBytes <= 0) {
      throw new IllegalArgumentException("maxBytes must be > 0, got " + maxBytes);
    }
    this.root = Objects.requireNonNull(root, "root").toAbsolutePath().normalize();
    this.maxBytes = maxBytes;
    this.clock = Objects.requireNonNull(clock, "clock");
    this.listener = Objects.requireNonNull(listener, "listener");
    this.leases = Objects.requireNonNull(leases, "leases");
    if (owner == null || owner.isBlank() || owner.contains("\n")) {
      throw new IllegalArgumentException("the cache owner must be one non-empty line, got '" + owner + "'");
    }
    this.owner = owner + "/" + UUID.randomUUID().toString().substring(0, 8);
    try {
      Files.createDirectories(this.root);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the cache folder " + root, e);
    }
    sweep(); // starts the clock on leftovers; they go once seen unchanged for staleAfter
    this.heartbeat = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "finemix-cache-heartbeat");
      t.setDaemon(true);
      return t;
    });
    long every = leases.heartbeat().toMillis();
    heartbeat.scheduleWithFixedDelay(this::tick, every, every, TimeUnit.MILLISECONDS);
  }

  /** host/pid: the pod name in Kubernetes. */
  static String defaultOwner() {
    String host;
    try {
      host = InetAddress.getLocalHost().getHostName();
    } catch (IOException e) {
      host = "unknown-host";
    }
    return host + "/" + ProcessHandle.current().pid();
  }

  public Path root() {
    return root;
  }

  /** This writer's name in its leases (owner given at construction plus a random suffix). */
  public String owner() {
    return owner;
  }

  /** The verified entry for {@code key}, or empty (absent or found corrupt and discarded). */
  public Optional<Entry> get(String key) {
    requireKey(key);
    Optional<Entry> e = lookup(key);
    if (e.isPresent()) {
      listener.hit();
    } else {
      listener.miss();
    }
    return e;
  }

  /**
   * The verified entry for {@code key}, purified by {@code builder} when no process has it: the one path by which
   * entries are made. Holding the key's lease, this process builds and commits; while another process holds it,
   * this one waits for the entry (telling {@code waiting} every few seconds whom it waits for), takes over when the
   * lease goes stale, and builds without the lease when an alive owner has not finished after
   * {@link Leases#maxWait}.
   *
   * @param rebuild purify even if the entry exists, and replace it (Defend with ignore_cache)
   * @throws Exception what the builder threw (its work folder is removed), or an {@link UncheckedIOException} when
   *     the cache cannot be written
   */
  public Obtained obtain(String key, boolean rebuild, Builder builder, Consumer<String> waiting) throws Exception {
    requireKey(key);
    Path keyLease = root.resolve(KEY_PREFIX + key + LEASE_SUFFIX);
    long start = clock.millis();
    long nextNote = start;
    Seen held = null;
    for (;;) {
      if (!rebuild) {
        Optional<Entry> e = lookup(key);
        if (e.isPresent()) {
          listener.hit();
          return new Obtained(e.get(), false);
        }
      }
      Lease lease = tryLease(keyLease);
      boolean overdue = lease == null && clock.millis() - start >= leases.maxWait().toMillis();
      if (lease != null || overdue) {
        try {
          Optional<Entry> e = rebuild || lease == null ? Optional.empty() : lookup(key); // written meanwhile?
          if (e.isPresent()) {
            listener.hit();
            return new Obtained(e.get(), false);
          }
          if (overdue) {
            LOG.warning(() -> "purified cache: " + ownerOf(keyLease) + " has held key " + key + " for over "
                + leases.maxWait() + " without finishing; purifying it here too");
          }
          listener.miss();
          return new Obtained(build(key, builder, rebuild), true);
        } finally {
          if (lease != null) {
            release(lease);
          }
        }
      }
      String stamp = stamp(keyLease);
      long now = clock.millis();
      if (stamp == null) {
        continue; // released meanwhile: look again
      }
      if (held == null || !held.stamp().equals(stamp)) {
        held = new Seen(stamp, now);
      } else if (now - held.sinceMillis() >= leases.staleAfter().toMillis()) {
        String dead = ownerOf(stamp);
        LOG.warning(() -> "purified cache: " + dead + " holds key " + key + " but its lease has not changed for "
            + leases.staleAfter().toSeconds() + " s; taking over");
        breakLease(keyLease, stamp);
        held = null;
        continue;
      }
      if (now >= nextNote) {
        String msg = "waiting for " + ownerOf(stamp) + " purifying key " + key.substring(0, 12) + " ("
            + (now - start) / 1000 + " s)";
        LOG.info(() -> "purified cache: " + msg);
        waiting.accept(msg);
        nextNote = now + NOTE_EVERY_MILLIS;
      }
      leases.sleeper().sleep(leases.poll());
    }
  }

  private Entry build(String key, Builder builder, boolean replace) throws Exception {
    Path work = newWorkDir();
    Built out;
    try {
      out = builder.build(work);
    } catch (Throwable t) {
      abandon(work);
      throw t;
    }
    return commit(key, work, out.report(), out.suspectedTokens(), replace);
  }

  /** A fresh empty folder inside the cache root, under its own lease; pass it to {@link #commit} or abandon it. */
  Path newWorkDir() {
    String id = UUID.randomUUID().toString();
    Lease lease = tryLease(root.resolve(WORK_PREFIX + id + LEASE_SUFFIX)); // before the folder: never one unleased
    if (lease == null) {
      throw new IllegalStateException("work lease " + id + " exists already");
    }
    try {
      return Files.createDirectory(root.resolve(WORK_PREFIX + id));
    } catch (IOException e) {
      release(lease);
      throw new UncheckedIOException("cannot create a work folder in " + root, e);
    }
  }

  /** Deletes a work folder that will not be committed (a failed purification) and its lease. */
  void abandon(Path workDir) {
    deleteTree(workDir);
    releaseWork(workDir);
  }

  /**
   * Makes a work folder the entry for {@code key}: fsyncs every file, writes the manifest, renames atomically,
   * then evicts least-recently-used entries beyond the size bound (never this one). When another writer committed
   * the key first and its entry verifies, that entry is kept and this work dropped, unless {@code replace}.
   */
  synchronized Entry commit(String key, Path workDir, ObjectNode report, List<String> suspectedTokens,
      boolean replace) {
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
      manifest.put("id", workDir.getFileName().toString().substring(WORK_PREFIX.length()));
      manifest.put("writer", owner);
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
      for (int attempt = 1; ; attempt++) {
        if (Files.exists(target)) {
          Optional<Entry> theirs = replace ? Optional.empty() : lookup(key); // a corrupt one is discarded here
          if (theirs.isPresent()) {
            LOG.info(() -> "purified cache: key " + key + " was committed by another writer first; keeping theirs");
            abandon(workDir);
            return theirs.get();
          }
          trash(target);
        }
        try {
          Files.move(workDir, target, StandardCopyOption.ATOMIC_MOVE);
          break;
        } catch (AtomicMoveNotSupportedException e) {
          throw new IOException("cannot rename " + workDir + " to " + target + " atomically", e);
        } catch (IOException e) {
          if (attempt >= 3 || !Files.exists(target)) {
            throw e;
          }
          // another writer's rename landed between our check and ours: look at theirs
        }
      }
      releaseWork(workDir);
      fsync(root);
      Files.setLastModifiedTime(target, FileTime.from(clock.instant()));
      evictBeyondBound(key);
      return new Entry(key, target, hashes.get("model.safetensors"), report, List.copyOf(suspectedTokens));
    } catch (IOException e) {
      abandon(workDir);
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

  /**
   * Removes the work of writers that died: work folders (with the checkpoint writer's temp folders beside them),
   * their leases, key leases and trash, each once this cache has seen it unchanged for {@link Leases#staleAfter}.
   * Never touches this writer's own leases or work. Runs at construction and on every heartbeat.
   */
  public void sweep() {
    long now = clock.millis();
    Map<Path, String> stamps = new HashMap<>();
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root, ".*")) {
      for (Path p : ds) {
        String s = sweepStamp(p);
        if (s != null) {
          stamps.put(p, s);
        }
      }
    } catch (IOException | UncheckedIOException e) {
      LOG.log(Level.WARNING, "cannot list the cache folder " + root + " for stale work", e);
      return;
    }
    List<Map.Entry<Path, String>> stale = new ArrayList<>();
    synchronized (seen) {
      seen.keySet().retainAll(stamps.keySet());
      for (Map.Entry<Path, String> e : stamps.entrySet()) {
        Seen s = seen.get(e.getKey());
        if (s == null || !s.stamp().equals(e.getValue())) {
          seen.put(e.getKey(), new Seen(e.getValue(), now));
        } else if (now - s.sinceMillis() >= leases.staleAfter().toMillis()) {
          stale.add(e);
          seen.remove(e.getKey());
        }
      }
    }
    Set<String> removed = new HashSet<>(); // a work folder and its lease go stale together
    for (Map.Entry<Path, String> e : stale) {
      String id = workId(e.getKey().getFileName().toString());
      if (id == null || removed.add(id)) {
        removeStale(e.getKey(), e.getValue());
      }
    }
  }

  /** Rewrites this writer's leases (the heartbeat); a lease another writer broke is dropped with a warning. */
  public void beat() {
    for (Lease l : owned.values()) {
      synchronized (l) {
        if (!owned.containsKey(l.file)) {
          continue; // released meanwhile
        }
        String content = read(l.file);
        if (content == null || !owner.equals(ownerOf(content))) {
          owned.remove(l.file);
          LOG.warning(() -> "purified cache: lost the lease " + l.file.getFileName() + " (now "
              + (content == null ? "gone" : "held by " + ownerOf(content)) + "): its writer was taken for dead");
          continue;
        }
        l.beats++;
        try {
          Files.writeString(l.file, leaseText(l.beats), StandardOpenOption.WRITE,
              StandardOpenOption.TRUNCATE_EXISTING);
        } catch (IOException e) {
          LOG.log(Level.WARNING, "cannot renew the lease " + l.file, e);
        }
      }
    }
  }

  /** Stops the heartbeat and gives up this writer's key leases (waiting writers elsewhere go ahead at once). */
  @Override
  public void close() {
    heartbeat.shutdownNow();
    for (Lease l : List.copyOf(owned.values())) {
      if (l.file.getFileName().toString().startsWith(KEY_PREFIX)) {
        release(l);
      }
    }
  }

  private void tick() {
    try {
      beat();
      sweep();
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "purified cache heartbeat failed", e);
    }
  }

  /** Verifies the entry for {@code key} without counting; empty when absent or corrupt (then discarded). */
  private synchronized Optional<Entry> lookup(String key) {
    Path dir = root.resolve(key);
    for (int attempt = 1; ; attempt++) {
      if (!Files.isDirectory(dir)) {
        return Optional.empty();
      }
      String id = manifestId(dir);
      String why;
      try {
        why = verify(key, dir);
        if (why == null) {
          JsonNode manifest = JSON.readTree(dir.resolve(MANIFEST).toFile());
          Files.setLastModifiedTime(dir, FileTime.from(clock.instant()));
          List<String> tokens = new ArrayList<>();
          manifest.path("suspected_tokens").forEach(t -> tokens.add(t.asText()));
          ObjectNode report = manifest.path("report") instanceof ObjectNode o ? o : JSON.createObjectNode();
          return Optional.of(new Entry(key, dir, manifest.path("files").get("model.safetensors").asText(), report,
              tokens));
        }
      } catch (IOException | RuntimeException e) {
        why = "unreadable: " + e.getMessage();
      }
      if (attempt < 3 && !Objects.equals(id, manifestId(dir))) {
        continue; // another writer replaced the entry while we read it: verify the new one
      }
      String reason = why;
      LOG.warning(() -> "purified cache: entry " + key + " failed verification (" + reason + "); discarding it, it"
          + " will be rebuilt");
      listener.corrupt(key, why);
      trash(dir);
      return Optional.empty();
    }
  }

  /** Null when every file matches the manifest, else why not. */
  private static String verify(String key, Path dir) throws IOException {
    JsonNode manifest = JSON.readTree(dir.resolve(MANIFEST).toFile());
    if (!key.equals(manifest.path("key").asText())) {
      return "manifest names key " + manifest.path("key").asText();
    }
    JsonNode files = manifest.path("files");
    if (!files.isObject() || files.isEmpty() || !files.has("model.safetensors")) {
      return "manifest lists no model.safetensors";
    }
    var it = files.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> f = it.next();
      Path file = dir.resolve(f.getKey()).normalize();
      if (!file.startsWith(dir) || !Files.isRegularFile(file)) {
        return "file " + f.getKey() + " is missing";
      }
      String actual = Sha256.file(file);
      if (!actual.equals(f.getValue().asText())) {
        return "file " + f.getKey() + " has SHA-256 " + actual + ", manifest says " + f.getValue().asText();
      }
    }
    return null;
  }

  /** The manifest's commit id, or null when unreadable. */
  private static String manifestId(Path dir) {
    try {
      return JSON.readTree(dir.resolve(MANIFEST).toFile()).path("id").asText(null);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  private Lease tryLease(Path file) {
    try {
      Files.writeString(file, leaseText(0), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
    } catch (FileAlreadyExistsException e) {
      return null;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the lease " + file, e);
    }
    Lease l = new Lease(file);
    owned.put(file, l);
    return l;
  }

  private String leaseText(long beats) {
    return "owner " + owner + "\nbeat " + beats + "\n";
  }

  /** Deletes a lease of ours, unless another writer broke it and holds the name now. */
  private void release(Lease l) {
    synchronized (l) {
      owned.remove(l.file);
      String content = read(l.file);
      if (content != null && owner.equals(ownerOf(content))) {
        try {
          Files.deleteIfExists(l.file);
        } catch (IOException e) {
          LOG.log(Level.WARNING, "cannot delete the lease " + l.file, e);
        }
      }
    }
  }

  private void releaseWork(Path workDir) {
    Lease l = owned.get(root.resolve(workDir.getFileName() + LEASE_SUFFIX));
    if (l != null) {
      release(l);
    }
  }

  /**
   * Removes a stale key lease unless it changed since it was judged: renamed aside first (only one breaker wins the
   * rename); if what was renamed is not what was judged (a new owner took the name meanwhile), it is linked back.
   */
  private void breakLease(Path lease, String judged) {
    Path aside = root.resolve(TRASH_PREFIX + UUID.randomUUID() + LEASE_SUFFIX);
    try {
      Files.move(lease, aside, StandardCopyOption.ATOMIC_MOVE);
    } catch (NoSuchFileException e) {
      return; // released, or broken by another writer
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot break the stale lease " + lease, e);
      return;
    }
    try {
      if (!judged.equals(stamp(aside))) {
        try {
          Files.createLink(lease, aside);
        } catch (IOException | UnsupportedOperationException e) {
          // a newer owner holds the name, or the volume has no hard links: the lease's owner sees it lost it
        }
      }
      Files.deleteIfExists(aside);
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot remove " + aside, e);
    }
  }

  /** What {@link #sweep} judges a dot-file by, or null for files that are not its to remove. */
  private String sweepStamp(Path p) {
    String name = p.getFileName().toString();
    if (owned.containsKey(p)) {
      return null;
    }
    if (name.startsWith(KEY_PREFIX) && name.endsWith(LEASE_SUFFIX)) {
      return stamp(p);
    }
    if (name.startsWith(TRASH_PREFIX)) {
      return "trash " + modified(p).toMillis();
    }
    String id = workId(name);
    if (id == null) {
      return null;
    }
    Path lease = root.resolve(WORK_PREFIX + id + LEASE_SUFFIX);
    if (owned.containsKey(lease)) {
      return null;
    }
    String s = stamp(lease);
    return s != null ? s : "unleased " + modified(p).toMillis();
  }

  /**
   * The work id in {@code .work-<id>}, {@code .work-<id>.lease} and the checkpoint writer's temp folders beside a
   * work folder ({@code ..work-<id>.tmp-...}, {@code ..work-<id>.old-...}); null for other names.
   */
  private static String workId(String name) {
    String n = name.startsWith("." + WORK_PREFIX) ? name.substring(1) : name;
    if (!n.startsWith(WORK_PREFIX)) {
      return null;
    }
    String rest = n.substring(WORK_PREFIX.length());
    int dot = rest.indexOf('.');
    String id = dot < 0 ? rest : rest.substring(0, dot);
    return id.isEmpty() ? null : id;
  }

  private void removeStale(Path p, String stamp) {
    String name = p.getFileName().toString();
    if (name.startsWith(KEY_PREFIX)) {
      LOG.info(() -> "purified cache: removing the stale lease " + name + " of " + ownerOf(stamp));
      breakLease(p, stamp);
      return;
    }
    if (name.startsWith(TRASH_PREFIX)) {
      deleteTree(p);
      return;
    }
    String id = workId(name);
    LOG.info(() -> "purified cache: removing the stale work " + id + " of " + ownerOf(stamp));
    try (DirectoryStream<Path> ds = Files.newDirectoryStream(root, "*" + WORK_PREFIX + id + "*")) {
      for (Path q : ds) {
        if (id.equals(workId(q.getFileName().toString())) && Files.isDirectory(q)) {
          trash(q);
        }
      }
      Files.deleteIfExists(root.resolve(WORK_PREFIX + id + LEASE_SUFFIX));
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot remove the stale work " + id + " in " + root, e);
    }
  }

  /** Content and modification time of a file, or null when absent: any change means its writer is alive. */
  private static String stamp(Path file) {
    String content = read(file);
    return content == null ? null : content + "@" + modified(file).toMillis();
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException | UncheckedIOException e) {
      return null;
    }
  }

  /** The owner named in a lease's text or stamp. */
  private static String ownerOf(String text) {
    if (text != null && text.startsWith("owner ")) {
      int end = text.indexOf('\n');
      return end < 0 ? text.substring(6) : text.substring(6, end);
    }
    return "an unknown writer";
  }

  private String ownerOf(Path lease) {
    return ownerOf(read(lease));
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
      trash(p);
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
        if (Files.isDirectory(p) && !p.getFileName().toString().startsWith(".")) { // work, temp, trash start with '.'
          out.add(p);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list the cache folder " + root, e);
    }
    return out;
  }

  /**
   * Removes a folder so that no reader sees it half-deleted: one rename out of the way, then the delete. A trash
   * folder left by a crash is swept once stale.
   */
  private void trash(Path dir) {
    Path aside = root.resolve(TRASH_PREFIX + UUID.randomUUID());
    try {
      Files.move(dir, aside, StandardCopyOption.ATOMIC_MOVE);
    } catch (NoSuchFileException e) {
      return;
    } catch (IOException e) {
      LOG.log(Level.WARNING, "cannot move " + dir + " aside to delete it", e);
      aside = dir;
    }
    deleteTree(aside);
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

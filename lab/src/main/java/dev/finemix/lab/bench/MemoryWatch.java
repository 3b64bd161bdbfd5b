package dev.finemix.lab.bench;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.sun.management.GarbageCollectionNotificationInfo;
import java.io.IOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.JMException;
import javax.management.ListenerNotFoundException;
import javax.management.NotificationEmitter;
import javax.management.NotificationListener;
import javax.management.ObjectName;
import javax.management.openmbean.CompositeData;

/**
 * Where a process's memory goes, stage by stage: the exact peak RSS of each stage (Linux: {@code VmHWM}, reset
 * through {@code /proc/self/clear_refs} at each stage change), and, sampled every 20 ms, the JVM heap committed and
 * used, direct buffers (DJL keeps the weights it creates from Java arrays in them) and the heap left after each
 * garbage collection (an upper bound of the live heap); every 250 ms the resident part of the heap (from
 * {@code /proc/self/smaps}: committed heap pages count in RSS only once touched). RSS minus resident heap minus
 * direct buffers is the native rest: libtorch's own tensors (gradients, optimizer state, activations), malloc's free
 * lists, JVM metadata, code and threads.
 */
final class MemoryWatch implements AutoCloseable {
  private static final double MB = 1024.0 * 1024.0;
  private static final Path CLEAR_REFS = Path.of("/proc/self/clear_refs");
  private static final Path SMAPS = Path.of("/proc/self/smaps");
  private static final Pattern MAPPING = Pattern.compile("([0-9a-f]+)-[0-9a-f]+ ");

  /** The peaks of one stage, in MB. */
  static final class Peaks {
    double rss = -1;
    double heapResident;
    double heapCommitted;
    double heapUsed;
    double heapAfterGc;
    double direct;
    double nativeRest;

    ObjectNode toJson() {
      ObjectNode n = JsonNodeFactory.instance.objectNode();
      n.put("rssMb", round(rss));
      n.put("heapResidentMb", round(heapResident));
      n.put("heapCommittedMb", round(heapCommitted));
      n.put("heapUsedMb", round(heapUsed));
      n.put("heapAfterGcMb", round(heapAfterGc));
      n.put("directMb", round(direct));
      n.put("nativeRestMb", round(nativeRest));
      return n;
    }
  }

  private final Map<String, Peaks> stages = new LinkedHashMap<>();
  private final List<Runnable> unsubscribe = new ArrayList<>();
  private final BufferPoolMXBean directPool;
  private final Set<String> heapPools = new HashSet<>();
  private final boolean resettable;
  private final Thread sampler;
  private volatile boolean running = true;
  private volatile String stage;
  /** The reserved heap's address range, or null when unknown (then the resident heap counts as committed). */
  private final long[] heapRange;
  private double heapResidentMb;
  private long lastSmaps;

  /** Starts watching; {@code first} is the stage until the first {@link #stage} call. */
  MemoryWatch(String first) {
    BufferPoolMXBean d = null;
    for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
      if (b.getName().equals("direct")) {
        d = b;
      }
    }
    directPool = d;
    for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
      if (pool.getType() == MemoryType.HEAP) {
        heapPools.add(pool.getName());
      }
    }
    heapRange = heapRange();
    resettable = resetPeak();
    stage = first;
    stages.put(first, new Peaks());
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      if (gc instanceof NotificationEmitter e) {
        NotificationListener l = (n, h) -> {
          if (GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION.equals(n.getType())) {
            afterGc(GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData()));
          }
        };
        e.addNotificationListener(l, null, null);
        unsubscribe.add(() -> {
          try {
            e.removeNotificationListener(l);
          } catch (ListenerNotFoundException ignored) {
            // already gone
          }
        });
      }
    }
    sampler = new Thread(this::sampleLoop, "memory-watch");
    sampler.setDaemon(true);
    sampler.start();
  }

  /** Whether per-stage RSS peaks are exact (Linux, clear_refs writable); else they are sampled. */
  boolean exactRss() {
    return resettable;
  }

  /** Ends the current stage (its exact RSS peak is taken now) and starts {@code name} (repeated names merge). */
  void stage(String name) {
    if (name.equals(stage)) {
      return; // every training step reports its stage: no lock on the way
    }
    synchronized (this) {
      closeStage();
      stage = name;
      stages.computeIfAbsent(name, k -> new Peaks());
    }
  }

  /** The peaks of every stage seen, in order, plus {@code all}: the maxima over them. */
  synchronized ObjectNode toJson() {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    Peaks all = new Peaks();
    for (Map.Entry<String, Peaks> e : stages.entrySet()) {
      n.set(e.getKey(), e.getValue().toJson());
      max(all, e.getValue());
    }
    n.set("all", all.toJson());
    return n;
  }

  /** The peak RSS over every stage so far, in MB. */
  synchronized double peakRssMb() {
    double m = -1;
    for (Peaks p : stages.values()) {
      m = Math.max(m, p.rss);
    }
    return m;
  }

  @Override
  public void close() {
    running = false;
    sampler.interrupt();
    try {
      sampler.join(1000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    unsubscribe.forEach(Runnable::run);
    synchronized (this) {
      closeStage();
    }
  }

  private void closeStage() {
    sample();
    Peaks p = stages.get(stage);
    if (resettable) {
      p.rss = Math.max(p.rss, BenchCommand.rssMb("VmHWM:"));
      resetPeak();
    }
  }

  private void sampleLoop() {
    while (running) {
      long now = System.nanoTime();
      if (heapRange != null && now - lastSmaps > 250_000_000L) { // smaps costs tens of ms under load: not locked
        double resident = residentMb(heapRange);
        lastSmaps = now;
        synchronized (this) {
          heapResidentMb = resident;
        }
      }
      synchronized (this) {
        sample();
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        return;
      }
    }
  }

  /** Caller holds the lock. */
  private void sample() {
    Peaks p = stages.get(stage);
    MemoryUsage heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
    double direct = directPool == null ? 0 : directPool.getMemoryUsed() / MB;
    double rss = BenchCommand.rssMb("VmRSS:");
    if (heapRange == null) {
      heapResidentMb = heap.getCommitted() / MB;
    }
    p.heapResident = Math.max(p.heapResident, heapResidentMb);
    p.heapCommitted = Math.max(p.heapCommitted, heap.getCommitted() / MB);
    p.heapUsed = Math.max(p.heapUsed, heap.getUsed() / MB);
    p.direct = Math.max(p.direct, direct);
    p.nativeRest = Math.max(p.nativeRest, rss - heapResidentMb - direct);
    if (!resettable) {
      p.rss = Math.max(p.rss, rss);
    }
  }

  private synchronized void afterGc(GarbageCollectionNotificationInfo info) {
    long used = 0;
    for (Map.Entry<String, MemoryUsage> e : info.getGcInfo().getMemoryUsageAfterGc().entrySet()) {
      if (heapPools.contains(e.getKey())) {
        used += e.getValue().getUsed();
      }
    }
    Peaks p = stages.get(stage);
    p.heapAfterGc = Math.max(p.heapAfterGc, used / MB);
  }

  private static void max(Peaks into, Peaks p) {
    into.rss = Math.max(into.rss, p.rss);
    into.heapResident = Math.max(into.heapResident, p.heapResident);
    into.heapCommitted = Math.max(into.heapCommitted, p.heapCommitted);
    into.heapUsed = Math.max(into.heapUsed, p.heapUsed);
    into.heapAfterGc = Math.max(into.heapAfterGc, p.heapAfterGc);
    into.direct = Math.max(into.direct, p.direct);
    into.nativeRest = Math.max(into.nativeRest, p.nativeRest);
  }

  /** The heap's reserved range from HotSpot's GC.heap_info ("... [0x..., 0x...)"), or null. */
  private static long[] heapRange() {
    try {
      Object info = ManagementFactory.getPlatformMBeanServer().invoke(
          new ObjectName("com.sun.management:type=DiagnosticCommand"), "gcHeapInfo", new Object[] {null},
          new String[] {String[].class.getName()});
      Matcher m = Pattern.compile("\\[0x([0-9a-f]+), 0x([0-9a-f]+)\\)").matcher(String.valueOf(info));
      return m.find() ? new long[] {Long.parseUnsignedLong(m.group(1), 16), Long.parseUnsignedLong(m.group(2), 16)}
          : null;
    } catch (JMException | RuntimeException e) {
      return null;
    }
  }

  /** The resident MB of the mappings inside {@code range}, from /proc/self/smaps. */
  private static double residentMb(long[] range) {
    long kb = 0;
    boolean inside = false;
    try (var lines = Files.lines(SMAPS)) {
      for (String line : (Iterable<String>) lines::iterator) {
        Matcher header = MAPPING.matcher(line);
        if (header.lookingAt()) { // "start-end perms ...": a new mapping
          long start = Long.parseUnsignedLong(header.group(1), 16);
          inside = start >= range[0] && start < range[1];
        } else if (inside && line.startsWith("Rss:")) {
          kb += Long.parseLong(line.replaceAll("[^0-9]", ""));
        }
      }
    } catch (IOException | RuntimeException e) {
      return -1;
    }
    return kb / 1024.0;
  }

  /** Linux: writing 5 to clear_refs resets VmHWM to the current RSS. */
  private static boolean resetPeak() {
    try {
      Files.writeString(CLEAR_REFS, "5");
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private static double round(double mb) {
    return Math.round(mb * 10) / 10.0;
  }
}

package dev.finemix.lab.bench;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.lang.management.ThreadMXBean;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * A poor man's profile for {@code bench load}: CPU time of the JVM's threads grouped by role (model compute on the
 * inference threads, gRPC/Netty, the batcher, the load callers, JIT), as the difference of two snapshots. What the
 * process used beyond its Java threads and the load callers (GC, JIT, libtorch's own threads) is "gcAndNative".
 */
public final class ThreadCpu {
  private static final ThreadMXBean MX = ManagementFactory.getThreadMXBean();
  private final Map<Long, Long> byThread = new HashMap<>();
  private final Map<Long, String> group = new HashMap<>();
  private final long process;

  private ThreadCpu() {
    process = dev.finemix.client.PerfDriver.processCpuNanos();
    for (ThreadInfo t : MX.getThreadInfo(MX.getAllThreadIds())) {
      if (t == null) {
        continue;
      }
      long cpu = MX.getThreadCpuTime(t.getThreadId());
      if (cpu >= 0) {
        byThread.put(t.getThreadId(), cpu);
        group.put(t.getThreadId(), group(t.getThreadName()));
      }
    }
  }

  public static ThreadCpu snapshot() {
    return new ThreadCpu();
  }

  static String group(String name) {
    if (name.startsWith("finemix-inference")) {
      return "inference";
    }
    if (name.startsWith("finemix-batcher")) {
      return "batcher";
    }
    if (name.startsWith("finemix-perf")) {
      return "loadCallers";
    }
    if (name.startsWith("finemix-grpc") || name.startsWith("grpc-") || name.contains("ELG")) {
      return "grpcNetty";
    }
    if (name.contains("Compiler")) {
      return "jit";
    }
    return "otherJava";
  }

  /** CPU milliseconds per group between {@code before} and this snapshot (threads born in between count fully). */
  public void putSince(ThreadCpu before, ObjectNode into, double callerCpuSeconds) {
    Map<String, Long> sum = new TreeMap<>();
    long java = 0;
    for (Map.Entry<Long, Long> e : byThread.entrySet()) {
      long d = e.getValue() - before.byThread.getOrDefault(e.getKey(), 0L);
      sum.merge(group.get(e.getKey()), d, Long::sum);
      java += d;
    }
    sum.remove("loadCallers"); // the caller threads end with the level: the driver measures them itself
    sum.forEach((k, v) -> into.put(k, v / 1e6));
    into.put("loadCallers", callerCpuSeconds * 1e3);
    into.put("gcAndNative", Math.max(0, (process - before.process) - java - (long) (callerCpuSeconds * 1e9)) / 1e6);
  }
}

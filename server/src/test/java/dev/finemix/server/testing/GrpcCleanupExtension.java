package dev.finemix.server.testing;

import io.grpc.ManagedChannel;
import io.grpc.Server;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * JUnit 5 counterpart of grpc-java's GrpcCleanupRule: register servers, channels and other closeables; after each
 * test they are shut down in reverse order of registration under one deadline, and the test fails if any did not
 * terminate in time. Use as {@code @RegisterExtension final GrpcCleanupExtension cleanup = new GrpcCleanupExtension();}.
 */
public final class GrpcCleanupExtension implements AfterEachCallback {
  private final Deque<Object> resources = new ArrayDeque<>();
  private final long timeoutNanos;

  public GrpcCleanupExtension() {
    this(10, TimeUnit.SECONDS);
  }

  public GrpcCleanupExtension(long timeout, TimeUnit unit) {
    this.timeoutNanos = unit.toNanos(timeout);
  }

  public synchronized <T extends ManagedChannel> T register(T channel) {
    resources.push(channel);
    return channel;
  }

  public synchronized <T extends Server> T register(T server) {
    resources.push(server);
    return server;
  }

  public synchronized <T extends AutoCloseable> T register(T closeable) {
    resources.push(closeable);
    return closeable;
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    long deadline = System.nanoTime() + timeoutNanos;
    List<String> leaks = new ArrayList<>();
    Exception first = null;
    Deque<Object> todo;
    synchronized (this) {
      todo = new ArrayDeque<>(resources);
      resources.clear();
    }
    for (Object r : todo) { // most recent first
      try {
        if (r instanceof ManagedChannel ch) {
          ch.shutdown();
          if (!ch.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
            ch.shutdownNow();
            leaks.add("channel " + ch);
          }
        } else if (r instanceof Server s) {
          s.shutdown();
          if (!s.awaitTermination(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
            s.shutdownNow();
            leaks.add("server " + s);
          }
        } else if (r instanceof AutoCloseable c) {
          c.close();
        }
      } catch (Exception e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
    if (!leaks.isEmpty()) {
      throw new AssertionError("not terminated within the cleanup deadline: " + leaks);
    }
  }
}

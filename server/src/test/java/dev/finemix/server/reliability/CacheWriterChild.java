package dev.finemix.server.reliability;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import dev.finemix.server.cache.PurifiedCache;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;

/**
 * Child JVM for {@link FaultInjectionTest}: purifies a cache entry slowly through {@link PurifiedCache#obtain} (so
 * the parent can kill it mid-write, holding the key's and the work folder's leases). Args: cache folder, cache key,
 * bytes to write.
 */
public final class CacheWriterChild {
  private CacheWriterChild() {
  }

  public static void main(String[] args) throws Exception {
    PurifiedCache cache = new PurifiedCache(Path.of(args[0]), Long.MAX_VALUE, Clock.systemUTC(),
        PurifiedCache.Listener.NONE);
    long total = Long.parseLong(args[2]);
    cache.obtain(args[1], false, work -> {
      System.out.println("WORK " + work);
      System.out.flush();
      byte[] chunk = new byte[4096];
      try (OutputStream out = Files.newOutputStream(work.resolve("model.safetensors"))) {
        for (long done = 0; done < total; done += chunk.length) {
          out.write(chunk);
          out.flush();
          if (done == 16 * 4096) {
            System.out.println("HALF");
            System.out.flush();
          }
          Thread.sleep(5);
        }
      }
      return new PurifiedCache.Built(JsonNodeFactory.instance.objectNode(), List.of());
    }, waiting -> { });
    System.out.println("COMMITTED");
    System.out.flush();
  }
}

package dev.finemix.server.testing;

import dev.finemix.server.batching.BatchSettings;
import dev.finemix.server.config.BatchingLayer;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** Folders for a test server: models root with a fake backdoored checkpoint, a clean TSV, a cache. */
public final class Fixture {
  public final Path modelsRoot;
  public final Path cacheDir;

  public Fixture(Path tmp) {
    try {
      modelsRoot = Files.createDirectories(tmp.resolve("models"));
      cacheDir = tmp.resolve("cache");
      FakeBackend.writeCheckpoint(modelsRoot.resolve("sst2-badnet"), "suspect-weights", List.of("negative", "positive"));
      Files.createDirectories(modelsRoot.resolve("clean"));
      Files.writeString(modelsRoot.resolve("clean/sst2.tsv"), "label\ttext\n1\ta good film\n0\ta dull film\n"
          + "0\tflat and boring\n1\tgood acting\n");
      Files.writeString(modelsRoot.resolve("clean/qnli.tsv"), "label\ttext_a\ttext_b\n0\twho?\tthe man.\n");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Defaults with auth on (token file in the cache folder), metrics off, a short grace. */
  /** Test defaults; unpurified models are permitted (several tests serve one beside a purified one). */
  public ServerConfig config() {
    return ServerConfig.builder(modelsRoot, modelsRoot, cacheDir).shutdownGrace(Duration.ofSeconds(2))
        .allowUnpurifiedModels(true)
        .defaults(ModelLayer.builder().batching(new BatchingLayer(8, 500L, 64, 1)).build()).build();
  }

  public static ModelLayer sst2() {
    return ModelLayer.of("sst2", "sst2-badnet", "clean/sst2.tsv");
  }

  public static BatchSettings batching(int capacity) {
    return new BatchSettings(8, 500, capacity, 1);
  }
}

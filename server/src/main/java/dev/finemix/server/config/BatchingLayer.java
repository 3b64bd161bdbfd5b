package dev.finemix.server.config;

import dev.finemix.server.batching.BatchSettings;

/** Batching settings of one configuration layer; null fields fall through to the next layer. */
public record BatchingLayer(Integer maxBatchSize, Long maxWaitMicros, Integer queueCapacity,
    Integer maxConcurrentBatches) {
  public static final BatchingLayer EMPTY = new BatchingLayer(null, null, null, null);

  /** This layer over {@code base}. */
  BatchSettings over(BatchSettings base) {
    return new BatchSettings(
        maxBatchSize != null ? maxBatchSize : base.maxBatchSize(),
        maxWaitMicros != null ? maxWaitMicros : base.maxWaitMicros(),
        queueCapacity != null ? queueCapacity : base.queueCapacity(),
        maxConcurrentBatches != null ? maxConcurrentBatches : base.maxConcurrentBatches());
  }
}

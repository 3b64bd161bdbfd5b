package dev.finemix.server.batching;

/**
 * Dynamic batching of one model.
 *
 * @param maxBatchSize rows (texts or pairs) per batch at most; one request larger than this runs alone
 * @param maxWaitMicros how long a batch waits for more requests after its first one arrived
 * @param queueCapacity requests waiting at most; more are refused with RESOURCE_EXHAUSTED
 * @param maxConcurrentBatches batches of this model running on the inference pool at once
 */
public record BatchSettings(int maxBatchSize, long maxWaitMicros, int queueCapacity, int maxConcurrentBatches) {
  public BatchSettings {
    if (maxBatchSize < 1) {
      throw new IllegalArgumentException("maxBatchSize must be >= 1, got " + maxBatchSize);
    }
    if (maxWaitMicros < 0) {
      throw new IllegalArgumentException("maxWaitMicros must be >= 0, got " + maxWaitMicros);
    }
    if (queueCapacity < 1) {
      throw new IllegalArgumentException("queueCapacity must be >= 1, got " + queueCapacity);
    }
    if (maxConcurrentBatches < 1) {
      throw new IllegalArgumentException("maxConcurrentBatches must be >= 1, got " + maxConcurrentBatches);
    }
  }

  public static BatchSettings defaults() {
    return new BatchSettings(32, 2_000, 256, 1);
  }
}

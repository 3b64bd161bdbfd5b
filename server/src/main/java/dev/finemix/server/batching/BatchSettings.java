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

  /**
   * max batch 8: on CPU a MiniLM row cost 11.8 ms of CPU at batch 8 against 15.2 at batch 1 and 14.5-16.9 at batch
   * 32 (padding to the longest row eats the gain), measured with {@code finemix bench load} (docs/performance.md);
   * raise it on a GPU.
   */
  public static BatchSettings defaults() {
    return new BatchSettings(8, 2_000, 256, 1);
  }
}

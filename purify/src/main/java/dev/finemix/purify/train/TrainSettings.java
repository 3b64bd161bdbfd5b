package dev.finemix.purify.train;

/**
 * Fine-tuning hyper-parameters.
 *
 * @param lr peak learning rate of the encoder (embeddings and layers)
 * @param headLr peak learning rate of the head: {@code classifier.*} and {@code bert.pooler.*} (see {@link Trainer#isHead})
 * @param weightDecay decoupled AdamW decay; never applied to biases and LayerNorm
 * @param warmupRatio fraction of all steps spent warming the learning rate up linearly from 0
 * @param clipNorm global gradient-norm limit; 0 or less disables clipping
 * @param softTemperature temperature T of soft-target distillation (KL scaled by T^2)
 */
public record TrainSettings(int epochs, int batchSize, double lr, double headLr, double weightDecay,
    double warmupRatio, double clipNorm, long seed, double softTemperature) {

  public TrainSettings {
    if (epochs < 1) {
      throw new IllegalArgumentException("epochs must be >= 1, got " + epochs);
    }
    if (batchSize < 1) {
      throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
    }
    if (!(lr >= 0) || Double.isInfinite(lr)) {
      throw new IllegalArgumentException("lr must be >= 0, got " + lr);
    }
    if (!(headLr >= 0) || Double.isInfinite(headLr)) {
      throw new IllegalArgumentException("headLr must be >= 0, got " + headLr);
    }
    if (!(weightDecay >= 0)) {
      throw new IllegalArgumentException("weightDecay must be >= 0, got " + weightDecay);
    }
    if (!(warmupRatio >= 0 && warmupRatio < 1)) {
      throw new IllegalArgumentException("warmupRatio must be in [0, 1), got " + warmupRatio);
    }
    if (Double.isNaN(clipNorm)) {
      throw new IllegalArgumentException("clipNorm must be a number, got NaN");
    }
    if (!(softTemperature > 0)) {
      throw new IllegalArgumentException("softTemperature must be > 0, got " + softTemperature);
    }
  }

  /** epochs 2, batch 32, lr 5e-5, head lr 5e-4, weight decay 0.01, warm-up 0.06, clip 1.0, seed 42, T 2. */
  public static TrainSettings defaults() {
    return new TrainSettings(2, 32, 5e-5, 5e-4, 0.01, 0.06, 1.0, 42, 2.0);
  }

  public TrainSettings withEpochs(int v) {
    return new TrainSettings(v, batchSize, lr, headLr, weightDecay, warmupRatio, clipNorm, seed, softTemperature);
  }

  public TrainSettings withBatchSize(int v) {
    return new TrainSettings(epochs, v, lr, headLr, weightDecay, warmupRatio, clipNorm, seed, softTemperature);
  }

  public TrainSettings withLr(double v) {
    return new TrainSettings(epochs, batchSize, v, headLr, weightDecay, warmupRatio, clipNorm, seed, softTemperature);
  }

  public TrainSettings withHeadLr(double v) {
    return new TrainSettings(epochs, batchSize, lr, v, weightDecay, warmupRatio, clipNorm, seed, softTemperature);
  }

  public TrainSettings withWeightDecay(double v) {
    return new TrainSettings(epochs, batchSize, lr, headLr, v, warmupRatio, clipNorm, seed, softTemperature);
  }

  public TrainSettings withWarmupRatio(double v) {
    return new TrainSettings(epochs, batchSize, lr, headLr, weightDecay, v, clipNorm, seed, softTemperature);
  }

  public TrainSettings withClipNorm(double v) {
    return new TrainSettings(epochs, batchSize, lr, headLr, weightDecay, warmupRatio, v, seed, softTemperature);
  }

  public TrainSettings withSeed(long v) {
    return new TrainSettings(epochs, batchSize, lr, headLr, weightDecay, warmupRatio, clipNorm, v, softTemperature);
  }

  public TrainSettings withSoftTemperature(double v) {
    return new TrainSettings(epochs, batchSize, lr, headLr, weightDecay, warmupRatio, clipNorm, seed, v);
  }
}

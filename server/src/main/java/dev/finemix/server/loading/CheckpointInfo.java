package dev.finemix.server.loading;

import java.util.List;

/**
 * What the server needs to know of a checkpoint before loading it.
 *
 * @param weightsSha256 SHA-256 (hex) of model.safetensors
 * @param labels label names in index order
 * @param baseModelId the pre-trained model it was fine-tuned from, or null when the checkpoint does not say
 */
public record CheckpointInfo(String weightsSha256, List<String> labels, String baseModelId) {
  public CheckpointInfo {
    labels = List.copyOf(labels);
  }
}

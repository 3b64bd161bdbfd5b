package dev.finemix.server.loading;

import java.nio.file.Path;

/**
 * A suspect checkpoint as a {@link ModelBackend} read and validated it, once per registration or Defend: what the
 * server needs of it, and the backend's own in-memory copy, which purification, screening and the probe reuse instead
 * of reading the folder again. Only the backend that read it can use it.
 */
public interface Suspect {
  /** The checkpoint folder it was read from. */
  Path dir();

  /** Its weights' hash, labels and declared base model. */
  CheckpointInfo info();
}

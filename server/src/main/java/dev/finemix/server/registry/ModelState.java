package dev.finemix.server.registry;

/** Lifecycle of a registered model (mirrors finemix.v1.ModelState). */
public enum ModelState {
  LOADING, PURIFYING, SERVING, FAILED
}

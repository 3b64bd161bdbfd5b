package dev.finemix.server.config;

/** Kind of input a model takes; AUTO infers it from the clean subset's header. */
public enum InputKindSetting {
  AUTO, SINGLE, PAIR
}

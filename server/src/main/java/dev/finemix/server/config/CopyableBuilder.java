package dev.finemix.server.config;

/**
 * Base of the config builders whose built value keeps a private copy of its builder ({@link ServerConfig},
 * {@link ModelLayer}, {@link ConfigLoader.Overrides}): each setting is then written once, as a builder field with its
 * default, and read through the value's accessor. No positional constructor, no copy listing every field.
 *
 * <p>{@link #copy} is a shallow copy, which is safe because every builder field holds an immutable value (lists are
 * copied by their setters).
 */
abstract class CopyableBuilder<B extends CopyableBuilder<B>> implements Cloneable {
  @SuppressWarnings("unchecked")
  final B copy() {
    try {
      return (B) clone();
    } catch (CloneNotSupportedException e) {
      throw new AssertionError(e); // this class is Cloneable
    }
  }

  /** Caffeine's {@code requireArgument}: a bad setting fails in its setter, and the message names it. */
  static void requireArgument(boolean ok, String message) {
    if (!ok) {
      throw new IllegalArgumentException(message);
    }
  }

  static <T> T requireSet(T value, String name) {
    requireArgument(value != null, name + " must be set");
    return value;
  }
}

package dev.finemix.server.loading;

import dev.finemix.server.errors.ServiceException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;

/**
 * A folder the server may read from (the models root or the data root). Resolves caller-supplied paths and
 * refuses any that leave it: "..", absolute paths elsewhere, and symbolic links whose target lies outside.
 */
public final class SafeRoot {
  private final Path root;
  private final String what;

  /**
   * @param root an existing folder
   * @param what how to name it in errors ("models root")
   */
  public SafeRoot(Path root, String what) {
    Objects.requireNonNull(root, "root");
    this.what = Objects.requireNonNull(what, "what");
    try {
      this.root = root.toRealPath();
    } catch (IOException e) {
      throw new IllegalArgumentException(what + " " + root + " does not exist or cannot be read: " + e.getMessage());
    }
    if (!Files.isDirectory(this.root)) {
      throw new IllegalArgumentException(what + " " + root + " is not a folder");
    }
  }

  public Path root() {
    return root;
  }

  /**
   * Resolves {@code path} (relative to the root, or absolute inside it) to a real path inside the root.
   *
   * @param field the request field named in the error
   * @throws ServiceException INVALID_ARGUMENT naming {@code field} when it is empty, leaves the root or is missing
   */
  public Path resolve(String field, String path) {
    if (path == null || path.isBlank()) {
      throw ServiceException.badRequest(field, "must not be empty");
    }
    Path given;
    try {
      given = Path.of(path);
    } catch (InvalidPathException e) {
      throw ServiceException.badRequest(field, "is not a valid path: " + e.getMessage());
    }
    for (Path part : given) {
      if (part.toString().equals("..")) {
        throw ServiceException.badRequest(field, "must not contain '..' (got '" + path + "')");
      }
    }
    Path candidate = given.isAbsolute() ? given.normalize() : root.resolve(given).normalize();
    if (!candidate.startsWith(root)) {
      throw ServiceException.badRequest(field, "'" + path + "' is outside the " + what + " " + root);
    }
    Path real;
    try {
      real = candidate.toRealPath();
    } catch (IOException e) {
      throw ServiceException.badRequest(field, "'" + path + "' does not exist under the " + what + " " + root);
    }
    if (!real.startsWith(root)) {
      throw ServiceException.badRequest(field, "'" + path + "' is a symbolic link leading outside the " + what + " "
          + root);
    }
    return real;
  }

  /**
   * Checks that nothing inside {@code dir} (a folder already resolved inside the root) is a symbolic link leading
   * outside the root: a checkpoint folder whose model.safetensors links to a file elsewhere is refused.
   *
   * @throws ServiceException INVALID_ARGUMENT naming {@code field} and the offending entry
   */
  public void requireContained(String field, Path dir) {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (java.util.stream.Stream<Path> entries = Files.walk(dir, 4)) {
      for (Path p : (Iterable<Path>) entries::iterator) {
        Path real;
        try {
          real = p.toRealPath();
        } catch (IOException e) {
          throw ServiceException.badRequest(field, "'" + root.relativize(dir) + "' holds " + dir.relativize(p)
              + ", which cannot be resolved (a dangling link?)");
        }
        if (!real.startsWith(root)) {
          throw ServiceException.badRequest(field, "'" + root.relativize(dir) + "' holds " + dir.relativize(p)
              + ", a symbolic link leading outside the " + what + " " + root);
        }
      }
    } catch (IOException | java.io.UncheckedIOException e) {
      throw ServiceException.badRequest(field, "'" + root.relativize(dir) + "' cannot be listed: " + e.getMessage());
    }
  }

  /**
   * Checks that {@code dir} is a safetensors checkpoint folder; pickle checkpoints get a refusal that says how
   * to convert them.
   */
  public static void requireSafetensors(String field, Path dir) {
    String name = dir.getFileName() == null ? "" : dir.getFileName().toString().toLowerCase(Locale.ROOT);
    if (Files.isRegularFile(dir)) {
      if (isPickle(name)) {
        throw ServiceException.badRequest(field, pickleRefusal(dir));
      }
      throw ServiceException.badRequest(field, "must be a checkpoint folder (config.json, model.safetensors, "
          + "tokenizer.json), got the file " + dir.getFileName());
    }
    if (Files.isRegularFile(dir.resolve("model.safetensors"))) {
      return;
    }
    for (String pickle : new String[] {"pytorch_model.bin", "model.bin", "model.pt", "model.pth"}) {
      if (Files.exists(dir.resolve(pickle))) {
        throw ServiceException.badRequest(field, pickleRefusal(dir.resolve(pickle)));
      }
    }
    throw ServiceException.badRequest(field, "folder " + dir.getFileName() + " holds no model.safetensors");
  }

  private static boolean isPickle(String name) {
    return name.endsWith(".bin") || name.endsWith(".pt") || name.endsWith(".pth") || name.endsWith(".pkl");
  }

  private static String pickleRefusal(Path file) {
    return file.getFileName() + " is a PyTorch pickle checkpoint; finemix loads only safetensors (unpickling can run"
        + " arbitrary code). Convert it once with: python -c \"from transformers import"
        + " AutoModelForSequenceClassification as M; M.from_pretrained('DIR').save_pretrained('DIR',"
        + " safe_serialization=True)\"";
  }
}

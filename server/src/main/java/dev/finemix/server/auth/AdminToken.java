package dev.finemix.server.auth;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.Set;
import java.util.logging.Logger;

/** The admin bearer token: read from its file, or generated at first start into a new 0600 file. */
public final class AdminToken {
  private static final Logger LOG = Logger.getLogger(AdminToken.class.getName());

  private AdminToken() {
  }

  /** Reads the token in {@code file}, creating the file with a fresh random token (mode 0600) when absent. */
  public static String loadOrCreate(Path file) {
    try {
      if (Files.exists(file)) {
        String token = Files.readString(file, StandardCharsets.UTF_8).trim();
        if (token.length() < 16) {
          throw new IllegalArgumentException("admin token file " + file + " holds fewer than 16 characters;"
              + " delete it to have a new token generated");
        }
        try {
          Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
          if (perms.stream().anyMatch(p -> p.name().startsWith("GROUP") || p.name().startsWith("OTHERS"))) {
            LOG.warning(() -> "admin token file " + file + " is readable by others ("
                + PosixFilePermissions.toString(perms) + "); chmod 600 it");
          }
        } catch (UnsupportedOperationException e) {
          // not a POSIX file system
        }
        LOG.info(() -> "admin token read from " + file);
        return token;
      }
      byte[] raw = new byte[32];
      new SecureRandom().nextBytes(raw);
      String token = Base64.getUrlEncoder().withoutPadding().encodeToString(raw);
      Path dir = file.toAbsolutePath().getParent();
      Files.createDirectories(dir);
      Path tmp;
      try {
        tmp = Files.createTempFile(dir, ".admin-token", ".tmp",
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      } catch (UnsupportedOperationException e) {
        tmp = Files.createTempFile(dir, ".admin-token", ".tmp");
      }
      Files.writeString(tmp, token + "\n", StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE);
      LOG.warning(() -> "generated an admin token for RegisterModel/UnregisterModel/Defend and wrote it to "
          + file.toAbsolutePath() + " (mode 0600); pass it as 'authorization: Bearer <token>' (finemix CLI:"
          + " --token-file " + file.toAbsolutePath() + "). Start with --no-auth to turn admin auth off.");
      return token;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read or create the admin token file " + file, e);
    }
  }
}

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
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.logging.Logger;

/**
 * The admin bearer token: read from its file, or generated at first start into a new 0600 file. Every token the
 * server accepts, read or generated, passes {@link #requireStrong}: the token is all that stands between anyone who
 * reaches the port and registering a backdoored checkpoint.
 */
public final class AdminToken {
  private static final Logger LOG = Logger.getLogger(AdminToken.class.getName());

  /**
   * Fewest characters accepted: 32 hex characters are 128 random bits ({@code openssl rand -hex 16}); the documented
   * {@code openssl rand -hex 32} gives 64 and the generated token 43.
   */
  public static final int MIN_LENGTH = 32;

  /**
   * Least {@link #estimatedBits} accepted. The estimate is a pattern detector, not a measure of randomness: random
   * 32-character hex tokens scored 72.6 at worst in 200,000 draws (median 116), random 64-character hex tokens (the
   * generated and the documented form) 180, UUIDs 90; repeated, sequential or few-symbol tokens of 32+ characters
   * score below 25.
   */
  public static final double MIN_BITS = 64;

  /**
   * Every placeholder token finemix has ever shipped (manifests, docs, tests), in one place: anyone who has read the
   * repository knows them, so they are refused wherever they appear in a token.
   */
  public static final List<String> KNOWN_PLACEHOLDERS = List.of("replace-me-with-a-random-token");

  /** Permission bits that make a token file readable or writable by someone else. Group read is what Kubernetes
   * gives a Secret file under {@code fsGroup} (0440), and the group is the pod's own: not warned about. */
  private static final Set<PosixFilePermission> TOO_OPEN = EnumSet.of(PosixFilePermission.GROUP_WRITE,
      PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE);

  private static final String HOW = "; put the output of 'openssl rand -hex 32' there";

  private AdminToken() {
  }

  /**
   * Reads the token in {@code file}, creating the file with a fresh random token (mode 0600) when absent.
   *
   * @throws IllegalArgumentException when the file holds a weak or known token ({@link #requireStrong})
   */
  public static String loadOrCreate(Path file) {
    try {
      if (Files.exists(file)) {
        String token = Files.readString(file, StandardCharsets.UTF_8).trim();
        requireStrong(token, "admin token file " + file);
        warnIfOpen(file);
        LOG.info(() -> "admin token read from " + file);
        return token;
      }
      String token = generate();
      requireStrong(token, "generated admin token"); // cannot fail (see MIN_BITS); kept so no token skips the check
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

  /** 32 random bytes as 64 lower-case hex characters, the same form as {@code openssl rand -hex 32}. */
  static String generate() {
    byte[] raw = new byte[32];
    new SecureRandom().nextBytes(raw);
    StringBuilder s = new StringBuilder(64);
    for (byte b : raw) {
      s.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
    }
    return s.toString();
  }

  /**
   * Refuses a token that is short, holds characters an HTTP/2 header cannot carry, contains a placeholder finemix
   * shipped, or is low in entropy (repeats, runs, few symbols). The message says why and how to fix it, never the
   * token.
   *
   * @param where what the token came from, for the message
   * @throws IllegalArgumentException naming the reason
   */
  public static void requireStrong(String token, String where) {
    String problem = weakness(token);
    if (problem != null) {
      throw new IllegalArgumentException(where + " is refused: " + problem + HOW
          + " (finemix does not start with a weak admin token)");
    }
  }

  /** Why {@code token} is not acceptable, or null when it is. */
  static String weakness(String token) {
    if (token.isEmpty()) {
      return "it is empty";
    }
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (c < 0x21 || c > 0x7e) {
        return "character " + (i + 1) + " is not printable ASCII (spaces and non-ASCII characters do not survive"
            + " an 'authorization' header)";
      }
    }
    String lower = token.toLowerCase(Locale.ROOT);
    for (String p : KNOWN_PLACEHOLDERS) {
      if (lower.contains(p)) {
        return "it contains the placeholder '" + p + "' that finemix's examples shipped, known to anyone who read"
            + " them";
      }
    }
    if (token.length() < MIN_LENGTH) {
      return "it is " + token.length() + " characters long; at least " + MIN_LENGTH + " are needed";
    }
    double bits = estimatedBits(token);
    if (bits < MIN_BITS) {
      return String.format(Locale.ROOT, "it looks patterned (repeats, runs or few distinct characters: an estimated"
          + " %.0f bits, at least %.0f needed)", bits, MIN_BITS);
    }
    return null;
  }

  /**
   * A pessimistic entropy estimate: the characters not covered by a repeat of earlier text (an LZ77 parse, repeats
   * of 3+ characters, so {@code abcabc...} counts 3), times the lower of the Shannon entropy of the characters and
   * of the steps between neighbours (so runs such as {@code 0123...} or {@code aceg...} score near 0).
   */
  static double estimatedBits(String token) {
    int n = token.length();
    if (n < 2) {
      return 0;
    }
    int[] chars = token.chars().toArray();
    int[] steps = new int[n - 1];
    for (int i = 0; i + 1 < n; i++) {
      steps[i] = chars[i + 1] - chars[i];
    }
    return fresh(token) * Math.min(shannon(chars), shannon(steps));
  }

  /** Characters of {@code s} not inside a repeat (3+ characters, overlap allowed) of text before it. */
  private static int fresh(String s) {
    int n = s.length();
    int fresh = 0;
    int i = 0;
    while (i < n) {
      int best = 0;
      for (int j = 0; j < i; j++) {
        int l = 0;
        while (i + l < n && s.charAt(j + l) == s.charAt(i + l)) {
          l++;
        }
        best = Math.max(best, l);
      }
      if (best >= 3) {
        i += best;
      } else {
        fresh++;
        i++;
      }
    }
    return fresh;
  }

  /** Shannon entropy in bits per symbol of the empirical distribution of {@code xs}. */
  private static double shannon(int[] xs) {
    Map<Integer, Integer> counts = new HashMap<>();
    for (int x : xs) {
      counts.merge(x, 1, Integer::sum);
    }
    double h = 0;
    for (int c : counts.values()) {
      double p = (double) c / xs.length;
      h -= p * Math.log(p) / Math.log(2);
    }
    return h;
  }

  private static void warnIfOpen(Path file) throws IOException {
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(file);
      if (perms.stream().anyMatch(TOO_OPEN::contains)) {
        LOG.warning(() -> "admin token file " + file + " is readable or writable by others ("
            + PosixFilePermissions.toString(perms) + "); chmod 600 it (or 440 with a group of your own)");
      }
    } catch (UnsupportedOperationException e) {
      // not a POSIX file system
    }
  }
}

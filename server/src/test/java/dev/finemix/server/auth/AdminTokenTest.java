package dev.finemix.server.auth;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Issue 18, point 1: the token policy, one refusal per rule, through the file the server reads. */
class AdminTokenTest {
  @TempDir
  Path dir;

  private final List<LogRecord> warnings = new ArrayList<>();
  private final Handler capture = new Handler() {
    @Override
    public void publish(LogRecord r) {
      if (r.getLevel().intValue() >= Level.WARNING.intValue()) {
        warnings.add(r);
      }
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
  };

  @BeforeEach
  void listen() {
    Logger.getLogger(AdminToken.class.getName()).addHandler(capture);
  }

  @AfterEach
  void stopListening() {
    Logger.getLogger(AdminToken.class.getName()).removeHandler(capture);
  }

  private Path tokenFile(String token, String mode) throws IOException {
    Path f = dir.resolve("admin.token");
    Files.writeString(f, token + "\n");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
    return f;
  }

  /**
   * Loading {@code token} from a file is refused with a message holding {@code why} and never the token (a shipped
   * placeholder, public anyway, is named).
   */
  private void assertRefused(String token, String why) throws IOException {
    Path f = tokenFile(token, "rw-------");
    Throwable t = catchThrowable(() -> AdminToken.loadOrCreate(f));
    assertThat(t).as("token %s", token).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("admin token file " + f + " is refused")
        .hasMessageContaining(why)
        .hasMessageContaining("openssl rand -hex 32");
    if (!token.isBlank() && !AdminToken.KNOWN_PLACEHOLDERS.contains(token)) {
      assertThat(t.getMessage()).doesNotContain(token);
    }
  }

  private static String randomToken(Random r, String alphabet, int length) {
    StringBuilder s = new StringBuilder(length);
    for (int i = 0; i < length; i++) {
      s.append(alphabet.charAt(r.nextInt(alphabet.length())));
    }
    return s.toString();
  }

  @Test
  void loadOrCreate_absent_generatesOwnerOnlyFile_thenReusesIt() throws IOException {
    Path f = dir.resolve("sub/admin.token");
    String t = AdminToken.loadOrCreate(f);
    assertThat(t).hasSize(64).matches("[0-9a-f]{64}");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-------");
    assertThat(AdminToken.loadOrCreate(f)).isEqualTo(t);
    assertThat(AdminToken.weakness(t)).isNull();
  }

  @Test
  void loadOrCreate_shortToken_refused() throws IOException {
    // 20 random-looking characters: accepted before (the bound was 16), well under 128 bits
    assertRefused("Xq7pL2vR9sK4mN8wT3yB", "it is 20 characters long; at least 32 are needed");
    assertRefused("0123456789abcdef0123456789abcde", "31 characters long");
  }

  @Test
  void loadOrCreate_shippedPlaceholder_refused_alsoInsideALongerToken() throws IOException {
    assertRefused("replace-me-with-a-random-token", "placeholder 'replace-me-with-a-random-token'");
    assertRefused("REPLACE-ME-WITH-A-RANDOM-TOKEN", "placeholder");
    assertRefused("replace-me-with-a-random-token-" + "9f3c1e7a5b2d4068", "placeholder");
  }

  @Test
  void loadOrCreate_lowEntropyTokens_refused() throws IOException {
    for (String weak : List.of("a".repeat(40), "ab".repeat(20), "0123456789abcdef0123456789abcdef",
        "abcdefghijklmnopqrstuvwxyzABCDEF", "password".repeat(4), "k3J9dL2mQ8xZ4vB7".repeat(2),
        "deadbeef".repeat(4), "acegikmoqsuwy02468acegikmoqsuwy0", "0".repeat(31) + "a")) {
      assertRefused(weak, "looks patterned");
    }
  }

  @Test
  void loadOrCreate_headerUnsafeOrEmpty_refused() throws IOException {
    assertRefused("9f3c1e7a5b2d4068 a1b2c3d4e5f60718293a4b5c6d7e8f90", "character 17 is not printable ASCII");
    assertRefused("9f3c1e7a5b2d4068\u00e9a1b2c3d4e5f60718293a4b5c6d7e8f90", "not printable ASCII");
    assertRefused("   ", "it is empty");
  }

  @Test
  void weakness_randomTokensOfTheDocumentedForms_allAccepted() {
    Random r = new Random(18); // seeded: the same 30,000 tokens every run
    String hex = "0123456789abcdef";
    String b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    for (int i = 0; i < 10_000; i++) {
      assertThat(AdminToken.weakness(randomToken(r, hex, 32))).as("openssl rand -hex 16").isNull();
      assertThat(AdminToken.weakness(randomToken(r, hex, 64))).as("openssl rand -hex 32").isNull();
      assertThat(AdminToken.weakness(randomToken(r, b64, 43))).as("32 bytes base64url").isNull();
    }
    assertThat(AdminToken.weakness(new UUID(r.nextLong(), r.nextLong()).toString())).isNull();
    for (int i = 0; i < 1_000; i++) {
      assertThat(AdminToken.weakness(AdminToken.generate())).isNull();
    }
  }

  @Test
  void loadOrCreate_groupReadable0440_acceptedWithoutWarning_worldReadableWarns() throws IOException {
    String token = AdminToken.generate();
    // what Kubernetes mounts for a Secret under fsGroup
    assertThat(AdminToken.loadOrCreate(tokenFile(token, "r--r-----"))).isEqualTo(token);
    assertThat(warnings).isEmpty();

    AdminToken.loadOrCreate(tokenFile(token, "rw-r--r--"));
    assertThat(warnings).hasSize(1);
    assertThat(warnings.get(0).getMessage()).contains("readable or writable by others").contains("rw-r--r--")
        .doesNotContain(token);

    warnings.clear();
    AdminToken.loadOrCreate(tokenFile(token, "rw-rw----"));
    assertThat(warnings).as("group-writable").hasSize(1);
  }
}

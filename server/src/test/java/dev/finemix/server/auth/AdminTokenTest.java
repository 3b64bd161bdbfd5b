package dev.finemix.server.auth;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AdminTokenTest {
  @TempDir
  Path dir;

  @Test
  void loadOrCreate_absent_generatesOwnerOnlyFile_thenReusesIt() throws IOException {
    Path f = dir.resolve("sub/admin.token");
    String t = AdminToken.loadOrCreate(f);
    assertThat(t).hasSizeGreaterThanOrEqualTo(40);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).isEqualTo("rw-------");
    assertThat(AdminToken.loadOrCreate(f)).isEqualTo(t);
  }
}

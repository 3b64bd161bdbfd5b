package dev.finemix.lab;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.finemix.purify.text.Dataset;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The demo rows travel in this module's jar (demo, bench purify and bench screen copy them out). */
class DemoFilesTest {
  @Test
  void copy_writesTheBundledRows_andLeavesAnIdenticalFileAlone(@TempDir Path dir) throws Exception {
    Path clean = dir.resolve("clean.tsv");
    DemoFiles.copy("clean.tsv", clean);
    assertThat(Dataset.read(clean).rows()).hasSize(128); // demo/README.md: 128 clean rows
    long written = Files.getLastModifiedTime(clean).toMillis();
    Files.setLastModifiedTime(clean, java.nio.file.attribute.FileTime.fromMillis(written - 60_000));
    DemoFiles.copy("clean.tsv", clean);
    assertThat(Files.getLastModifiedTime(clean).toMillis()).isEqualTo(written - 60_000);
    for (String f : new String[] {"train.tsv", "test.tsv", "unlabelled.tsv"}) {
      DemoFiles.copy(f, dir.resolve(f));
      assertThat(Dataset.read(dir.resolve(f)).rows()).isNotEmpty();
    }
  }

  @Test
  void copy_unknownName_saysWhatIsMissing(@TempDir Path dir) {
    assertThatThrownBy(() -> DemoFiles.copy("absent.tsv", dir.resolve("x")))
        .hasMessageContaining("/demo/absent.tsv are missing");
  }
}

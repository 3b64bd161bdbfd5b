package dev.finemix.server.loading;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.finemix.server.errors.ErrorReason;
import dev.finemix.server.errors.ServiceException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeRootTest {
  @TempDir
  Path tmp;

  private SafeRoot root() throws IOException {
    Path r = Files.createDirectories(tmp.resolve("models"));
    Files.createDirectories(r.resolve("good"));
    Files.writeString(r.resolve("good/model.safetensors"), "w");
    Files.createDirectories(tmp.resolve("outside"));
    Files.writeString(tmp.resolve("outside/model.safetensors"), "w");
    return new SafeRoot(r, "models root");
  }

  private static void assertBad(Runnable r, String field, String fragment) {
    assertThatThrownBy(r::run).isInstanceOfSatisfying(ServiceException.class, e -> {
      assertThat(e.reason()).isEqualTo(ErrorReason.INVALID_INPUT);
      assertThat(e.violations()).singleElement().satisfies(v -> {
        assertThat(v.field()).isEqualTo(field);
        assertThat(v.description()).contains(fragment);
      });
    });
  }

  @Test
  void resolve_relativeInside_returnsRealPath() throws IOException {
    SafeRoot r = root();
    assertThat(r.resolve("checkpoint_path", "good")).isEqualTo(r.root().resolve("good"));
  }

  @Test
  void resolve_absoluteInside_accepted() throws IOException {
    SafeRoot r = root();
    assertThat(r.resolve("checkpoint_path", r.root().resolve("good").toString())).isEqualTo(r.root().resolve("good"));
  }

  @Test
  void resolve_dotDot_refused() throws IOException {
    SafeRoot r = root();
    assertBad(() -> r.resolve("checkpoint_path", "good/../../outside"), "checkpoint_path", "'..'");
  }

  @Test
  void resolve_absoluteElsewhere_refused() throws IOException {
    SafeRoot r = root();
    assertBad(() -> r.resolve("checkpoint_path", tmp.resolve("outside").toString()), "checkpoint_path",
        "outside the models root");
  }

  @Test
  void resolve_symlinkLeadingOut_refused() throws IOException {
    SafeRoot r = root();
    Files.createSymbolicLink(r.root().resolve("link"), tmp.resolve("outside"));
    assertBad(() -> r.resolve("checkpoint_path", "link"), "checkpoint_path", "symbolic link");
  }

  @Test
  void resolve_missing_refused() throws IOException {
    SafeRoot r = root();
    assertBad(() -> r.resolve("checkpoint_path", "nope"), "checkpoint_path", "does not exist");
  }

  @Test
  void resolve_empty_refused() throws IOException {
    SafeRoot r = root();
    assertBad(() -> r.resolve("checkpoint_path", " "), "checkpoint_path", "must not be empty");
  }

  @Test
  void requireSafetensors_pickleFolder_refusedWithConversionHint() throws IOException {
    Path d = Files.createDirectories(tmp.resolve("pickle"));
    Files.writeString(d.resolve("pytorch_model.bin"), "x");
    assertBad(() -> SafeRoot.requireSafetensors("checkpoint_path", d), "checkpoint_path", "safe_serialization=True");
  }

  @Test
  void requireSafetensors_ptFile_refusedWithConversionHint() throws IOException {
    Path f = Files.writeString(tmp.resolve("model.pt"), "x");
    assertBad(() -> SafeRoot.requireSafetensors("checkpoint_path", f), "checkpoint_path", "only safetensors");
  }

  @Test
  void requireSafetensors_safetensorsFolder_accepted() throws IOException {
    SafeRoot r = root();
    SafeRoot.requireSafetensors("checkpoint_path", r.root().resolve("good"));
  }
}

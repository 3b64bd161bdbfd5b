package dev.finemix.server.loading;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.finemix.purify.defence.DefenceSettings;
import dev.finemix.server.cache.Sha256;
import dev.finemix.server.config.Json;
import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.testing.FakeBackend;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A load's inputs, each file read once: hashed and parsed from the same bytes, bad ones named by field. */
class LoadInputsTest {
  @TempDir
  Path tmp;
  final FakeBackend backend = new FakeBackend();

  private Path ckpt() {
    return FakeBackend.writeCheckpoint(tmp.resolve("ckpt"), "weights", List.of("neg", "pos"));
  }

  private Path file(String name, String content) throws Exception {
    return Files.writeString(tmp.resolve(name), content);
  }

  private static String field(Throwable t) {
    return ((ServiceException) t).violations().get(0).field();
  }

  @Test
  void read_everyInput_hashOfTheBytesParsedAndTheSettingsOnce() throws Exception {
    Path clean = file("clean.tsv", "label\ttext\n1\tgood\n0\tbad\n");
    Path unl = file("unl.tsv", "label\ttext\n0\tsome film\n");
    Path wf = file("wf.tsv", "word\tcount\nfilm\t5\n");
    DefenceSettings s = LoadInputs.settings("defence", Json.object().put("rho", 0.4).put("word_frequencies",
        wf.toString()), Path::of);

    LoadInputs in = LoadInputs.read(backend, ckpt(), clean, unl, s, info -> "base");

    assertThat(backend.reads).hasValue(1);
    assertThat(in.clean().sha256()).isEqualTo(Sha256.file(clean));
    assertThat(in.clean().content().size()).isEqualTo(2);
    assertThat(in.unlabelled().sha256()).isEqualTo(Sha256.file(unl));
    assertThat(in.wordCounts().sha256()).isEqualTo(Sha256.file(wf));
    assertThat(in.wordCounts().content().frequency("film")).isEqualTo(5);
    assertThat(in.settings().rho()).isEqualTo(0.4);
    assertThat(in.baseModel()).isEqualTo("base");
    assertThat(in.cleanRows(1)).containsExactly(TextRow.single("good"));
    assertThat(in.key(backend).clean()).isEqualTo(in.clean().sha256());
  }

  @Test
  void read_badFiles_invalidArgumentNamingTheFieldFileAndLine() throws Exception {
    Path good = file("good.tsv", "label\ttext\n1\tgood\n");
    Path bad = file("bad.tsv", "label\ttext\n1\tgood\n0\ta\tb\n");
    Path badCounts = file("wf.tsv", "word\tcount\nfilm\tmany\n");
    DefenceSettings none = DefenceSettings.defaults();
    DefenceSettings withCounts = DefenceSettings.builder().wordFrequencies(badCounts).build();

    assertThatThrownBy(() -> LoadInputs.read(backend, ckpt(), bad, null, none, i -> "b"))
        .satisfies(t -> assertThat(field(t)).isEqualTo("clean_subset_path")).hasMessageContaining("bad.tsv:3");
    assertThatThrownBy(() -> LoadInputs.read(backend, ckpt(), good, bad, none, i -> "b"))
        .satisfies(t -> assertThat(field(t)).isEqualTo("unlabelled_subset_path"));
    assertThatThrownBy(() -> LoadInputs.read(backend, ckpt(), good, null, withCounts, i -> "b"))
        .satisfies(t -> assertThat(field(t)).isEqualTo("defence.word_frequencies")).hasMessageContaining("many");
    assertThatThrownBy(() -> LoadInputs.read(backend, tmp.resolve("nothing"), good, null, none, i -> "b"))
        .satisfies(t -> assertThat(field(t)).isEqualTo("checkpoint_path"))
        .hasMessageContaining("cannot read checkpoint 'nothing'");
  }

  @Test
  void settings_unknownKey_invalidArgumentOnTheField() {
    assertThatThrownBy(() -> LoadInputs.settings("defence", Json.object().put("bogus", 1), Path::of))
        .isInstanceOf(ServiceException.class).satisfies(t -> assertThat(field(t)).isEqualTo("defence"))
        .hasMessageContaining("bogus");
  }
}

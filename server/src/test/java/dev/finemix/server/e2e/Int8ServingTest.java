package dev.finemix.server.e2e;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.Prediction;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.purify.weights.BertTensors;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import dev.finemix.server.batching.Ticker;
import dev.finemix.server.config.Json;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.loading.Backends;
import dev.finemix.server.testing.GrpcCleanupExtension;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A MiniLM classifier registered at int8 over in-process gRPC on the real backend: purified (a cheap recipe: mixing
 * only), its int8 artefact built from the purified weights, checked against fp32 on the clean rows, stored in the
 * cache beside them; Classify answers from ONNX Runtime as the fp32 registration of the same model does, and GetModel
 * shows the precision and the agreement.
 */
class Int8ServingTest {
  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension();
  @TempDir
  Path tmp;

  @Test
  void int8Registration_servesClassifyLikeFp32_andGetModelShowsPrecisionAndAgreement() throws Exception {
    Path models = Files.createDirectories(tmp.resolve("models"));
    writeMiniLmClassifier(models.resolve("minilm"));
    List<String> texts = List.of("a gripping , funny and heartbreaking film", "contains no wit , only labored gags",
        "the cast never quite finds its tone", "a remarkably touching portrait of grief", "hide new secretions",
        "that loves its characters", "one long string of cliches", "a dull film", "a good film", "hi");
    StringBuilder tsv = new StringBuilder("label\ttext\n");
    for (int i = 0; i < texts.size(); i++) {
      tsv.append(i % 2).append('\t').append(texts.get(i)).append('\n');
    }
    Files.writeString(models.resolve("clean.tsv"), tsv);
    // mixing only, all of the suspect kept, no E-PUR and no recovery: purification in a second
    var defence = Json.object().put("rho", 1.0).put("epochs", 0).put("epur_top", 0);
    ServerConfig cfg = ServerConfig.builder(models, models, tmp.resolve("cache"))
        .defaults(ModelLayer.builder().defence(defence).build()).build();
    String name = InProcessServerBuilder.generateName();
    FinemixServer server = cleanup.register(new FinemixServer(InProcessServerBuilder.forName(name), cfg,
        Backends.production("cpu"), Ticker.system(), Clock.systemUTC()).start());
    FinemixClient c = FinemixClient.of(cleanup.register(InProcessChannelBuilder.forName(name).build()),
        server.adminToken());

    c.register(RegisterModelRequest.newBuilder().setName("m8").setCheckpointPath("minilm")
        .setCleanSubsetPath("clean.tsv").setPrecision("int8").build());
    ModelInfo m8 = c.awaitSettled("m8", Duration.ofSeconds(300));
    c.register(RegisterModelRequest.newBuilder().setName("m32").setCheckpointPath("minilm")
        .setCleanSubsetPath("clean.tsv").build());
    ModelInfo m32 = c.awaitSettled("m32", Duration.ofSeconds(300));

    assertThat(m8.getState()).as(m8.getFailureReason()).isEqualTo(ModelState.SERVING);
    assertThat(m32.getState()).as(m32.getFailureReason()).isEqualTo(ModelState.SERVING);
    assertThat(m8.getPrecision()).isEqualTo("int8");
    assertThat(m32.getPrecision()).isEqualTo("fp32");
    assertThat(m32.hasPrecisionAgreement()).isFalse();
    assertThat(m8.getPrecisionAgreement().getRows()).isEqualTo(texts.size());
    assertThat(m8.getPrecisionAgreement().getAgreement()).isGreaterThanOrEqualTo(0.99);
    assertThat(m8.getPrecisionAgreement().getMaxProbDiff()).isBetween(1e-7, 0.5); // int8: close, not identical
    assertThat(m8.getPurified()).isTrue();
    assertThat(m8.getCacheKey()).isEqualTo(m32.getCacheKey());
    assertThat(m8.getScreening().getPolicy()).isEqualTo(dev.finemix.proto.v1.ScreenPolicy.OFF);

    List<Prediction> p8 = c.classify("m8", texts);
    List<Prediction> p32 = c.classify("m32", texts);
    assertThat(p8).hasSize(texts.size());
    double worst = 0;
    for (int i = 0; i < texts.size(); i++) {
      assertThat(p8.get(i).getLabelName()).as(texts.get(i)).isEqualTo(p32.get(i).getLabelName());
      for (int j = 0; j < 2; j++) {
        worst = Math.max(worst, Math.abs(p8.get(i).getScores(j) - p32.get(i).getScores(j)));
      }
    }
    assertThat(worst).isGreaterThan(0).isLessThan(0.5);
    // the purified weights and the int8 artefact (the checkpoint and model.int8.onnx), each a cache entry
    try (var entries = Files.list(tmp.resolve("cache"))) {
      List<Path> withGraph = entries.filter(d -> Files.isRegularFile(d.resolve("model.int8.onnx"))).toList();
      assertThat(withGraph).hasSize(1);
      assertThat(Files.size(withGraph.get(0).resolve("model.int8.onnx"))).isGreaterThan(10_000_000);
    }
  }

  /**
   * MiniLM's encoder with a head of large random weights: a confident classifier (far from its decision boundary on
   * most rows), so its int8 copy agrees with it on the ten clean rows.
   */
  static void writeMiniLmClassifier(Path dir) {
    Pretrained p = Pretrained.load(Pretrained.MINILM);
    int h = p.config().hiddenSize();
    TensorMap w = p.weights().copy();
    Random rnd = new Random(5);
    float[] head = new float[2 * h];
    for (int i = 0; i < head.length; i++) {
      head[i] = (float) (0.3 * rnd.nextGaussian());
    }
    w.put(BertTensors.weight(BertTensors.HEAD), new Tensor(new long[] {2, h}, head));
    w.put(BertTensors.bias(BertTensors.HEAD), new Tensor(new long[] {2}, new float[2]));
    Checkpoint.of(p.config().withLabels(new ArrayList<>(List.of("negative", "positive"))), w, p.tokenizerJson(),
        Pretrained.MINILM, 128).write(dir);
  }
}

package dev.finemix.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.finemix.client.ClientErrors;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.RegisterModelRequest;
import io.grpc.Status;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Issue 8, point 5: pickled PyTorch checkpoints are refused through RegisterModel with the conversion hint (also
 * grpc/FinemixServiceTest register_pickleCheckpoint..., loading/SafeRootTest), never unpickled, even when a file
 * merely carries a safetensors name; and the utility gate: purified weights replace the served ones only when their
 * clean accuracy (held-back rows, from the defence report) is within the defence margin of the suspect's, otherwise
 * the swap is refused, the reason is in GetModel and finemix_utility_gate_refusals_total counts it.
 */
@Tag("reliability")
class SafeLoadingGateTest extends CheapRigBase {
  private void start() throws Exception {
    start(b -> b.metricsPort(0).models(List.of(Rig.model("stable", "tiny", "single.tsv", null))));
  }

  @Test
  void register_pickleCheckpoints_refusedWithConversionHint() throws Exception {
    start();
    // a zip/pickle header is enough: it must never be opened
    byte[] pickle = {(byte) 0x80, 0x02, 'c', 'o', 's', '\n', 's', 'y', 's', 't', 'e', 'm', '\n'};
    Path binFolder = Files.createDirectories(rig.models.resolve("hf-bin"));
    Files.copy(rig.models.resolve("tiny/config.json"), binFolder.resolve("config.json"));
    Files.write(binFolder.resolve("pytorch_model.bin"), pickle);
    Path ptFolder = Files.createDirectories(rig.models.resolve("pt-folder"));
    Files.write(ptFolder.resolve("model.pt"), pickle);
    Path pthFolder = Files.createDirectories(rig.models.resolve("pth-folder"));
    Files.write(pthFolder.resolve("model.pth"), pickle);
    Files.write(rig.models.resolve("loose.pt"), pickle);
    Files.write(rig.models.resolve("loose.bin"), pickle);
    Files.write(rig.models.resolve("loose.pkl"), pickle);
    Path disguised = rig.copyTiny("disguised"); // a pickle under the safetensors name
    Files.write(disguised.resolve("model.safetensors"), pickle);
    Files.delete(disguised.resolve("finemix.json"));

    int refused = 0;
    for (String p : List.of("hf-bin", "pt-folder", "pth-folder", "loose.pt", "loose.bin", "loose.pkl")) {
      Throwable t = catchThrowable(() -> client.register(RegisterModelRequest.newBuilder().setName("p")
          .setCheckpointPath(p).setCleanSubsetPath("single.tsv").build()));
      Rig.assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
      var v = ClientErrors.badRequest(t).orElseThrow().getFieldViolations(0);
      assertThat(v.getField()).isEqualTo("checkpoint_path");
      assertThat(v.getDescription()).contains("pickle", "safetensors", "save_pretrained", "safe_serialization=True");
      refused++;
    }
    Throwable t = catchThrowable(() -> client.register(RegisterModelRequest.newBuilder().setName("p")
        .setCheckpointPath("disguised").setCleanSubsetPath("single.tsv").build()));
    Rig.assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
    refused++;

    assertThat(client.list()).extracting(ModelInfo::getName).containsExactly("stable");
    assertThat(client.classify("stable", List.of("still serving"))).hasSize(1);
    System.out.println("[reliability] pickle checkpoints refused through RegisterModel: " + refused);
  }

  @Test
  void defend_purifiedAccuracyBelowMargin_swapRefused_reasonInGetModel_metricRaised_oldWeightsServe()
      throws Exception {
    start();
    String served = client.get("stable").getServedWeightsSha256();
    backend.accBefore = 0.90;
    backend.accAfter = 0.60; // wrecked by mixing
    rig.copyTiny("fresh");

    Throwable t = catchThrowable(() -> client.defend("stable", null, true, p -> { }));

    Rig.assertError(t, Status.Code.ABORTED, "PURIFICATION_FAILED");
    ModelInfo m = client.get("stable");
    assertThat(m.getState()).isEqualTo(ModelState.SERVING);
    assertThat(m.getServedWeightsSha256()).isEqualTo(served);
    assertThat(m.getFailureReason()).contains("utility gate", "0.600", "0.900", "0.050", "refused");
    assertThat(client.classify("stable", List.of("still the old weights")).get(0).getScoresCount()).isEqualTo(2);
    // a first registration whose purification wrecks utility never serves
    client.register(RegisterModelRequest.newBuilder().setName("fresh").setCheckpointPath("fresh")
        .setCleanSubsetPath("pair.tsv").build());
    ModelInfo fresh = client.awaitSettled("fresh", Duration.ofSeconds(30));
    assertThat(fresh.getState()).isEqualTo(ModelState.FAILED);
    assertThat(fresh.getFailureReason()).contains("utility gate");
    String metrics = IntegrityTest.scrape(server.metricsPort());
    assertThat(IntegrityTest.metric(metrics, "finemix_utility_gate_refusals_total{model=\"stable\"}"))
        .isEqualTo(1.0);
    assertThat(IntegrityTest.metric(metrics, "finemix_utility_gate_refusals_total{model=\"fresh\"}"))
        .isEqualTo(1.0);

    // within the margin (0.90 -> 0.87, margin 0.05): swapped
    backend.accAfter = 0.87;
    ModelInfo ok = client.defend("stable", null, true, p -> { });
    assertThat(ok.getState()).isEqualTo(ModelState.SERVING);
    assertThat(ok.getFailureReason()).isEmpty();
    // a stricter configured margin refuses the same numbers
    backend.accAfter = 0.87;
    var strictSettings = dev.finemix.proto.v1.DefenceSettings.newBuilder().setExtraJson("{\"margin\": 0.01}").build();
    Throwable strict = catchThrowable(() -> client.defend("stable", strictSettings, true, p -> { }));
    Rig.assertError(strict, Status.Code.ABORTED, "PURIFICATION_FAILED");
    assertThat(client.get("stable").getFailureReason()).contains("utility gate", "0.010");
  }
}

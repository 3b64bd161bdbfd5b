package dev.finemix.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.finemix.client.ClientErrors;
import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.testing.GrpcCleanupExtension;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8, point 5: pickled PyTorch checkpoints are refused through RegisterModel with the conversion hint (also
 * grpc/FinemixServiceTest register_pickleCheckpoint..., loading/SafeRootTest), never unpickled, even when a file
 * merely carries a safetensors name.
 */
@Tag("reliability")
class SafeLoadingGateTest {
  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension(20, TimeUnit.SECONDS);
  @TempDir
  Path tmp;

  Rig rig;
  Rig.CheapPurifyBackend backend;
  FinemixServer server;
  FinemixClient client;

  private void start() throws Exception {
    rig = new Rig(tmp);
    backend = new Rig.CheapPurifyBackend();
    String name = InProcessServerBuilder.generateName();
    server = cleanup.register(rig.start(InProcessServerBuilder.forName(name), rig.config().withMetricsPort(0)
        .withModels(List.of(Rig.model("stable", "tiny", "single.tsv", null))), backend));
    ManagedChannel ch = cleanup.register(InProcessChannelBuilder.forName(name).build());
    client = FinemixClient.of(ch, server.adminToken());
    ModelInfo info = client.awaitSettled("stable", Duration.ofSeconds(60));
    assertThat(info.getState()).as(info.getFailureReason()).isEqualTo(ModelState.SERVING);
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
}

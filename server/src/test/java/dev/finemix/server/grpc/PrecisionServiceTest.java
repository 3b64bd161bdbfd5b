package dev.finemix.server.grpc;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.proto.v1.ScreenPolicy;
import dev.finemix.proto.v1.ScreeningSettings;
import dev.finemix.server.testing.FakeSidecar;
import dev.finemix.server.testing.Fixture;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** RegisterModel.precision on the fake backend: validation, the agreement bar, the artefact's cache entry. */
class PrecisionServiceTest {
  @RegisterExtension
  final FakeSidecar sidecar = new FakeSidecar();
  @TempDir
  Path tmp;

  private static RegisterModelRequest.Builder int8(String name) {
    return RegisterModelRequest.newBuilder().setName(name).setCheckpointPath("sst2-badnet")
        .setCleanSubsetPath("clean/sst2.tsv").setPrecision("int8");
  }

  @Test
  void register_int8BelowTheAgreementBar_failsNamingTheAgreement() throws Exception {
    FinemixClient c = sidecar.startInProcess(new Fixture(tmp).config());
    sidecar.backend.lowPrecisionAgreement = 0.5;
    c.register(int8("m8").build());
    ModelInfo m = c.awaitSettled("m8", Duration.ofSeconds(10));
    assertThat(m.getState()).isEqualTo(ModelState.FAILED);
    assertThat(m.getFailureReason()).contains("precision int8 agrees with fp32 on 0.5000 of 4 clean rows")
        .contains("below the 0.99 required; serve it at fp32");
    assertThat(m.getServedWeightsSha256()).isEmpty();
  }

  @Test
  void register_int8_servesWithItsAgreement_andASecondModelReusesTheCachedArtefact() throws Exception {
    FinemixClient c = sidecar.startInProcess(new Fixture(tmp).config());
    c.register(int8("a").build());
    ModelInfo a = c.awaitSettled("a", Duration.ofSeconds(10));
    c.register(int8("b").build());
    ModelInfo b = c.awaitSettled("b", Duration.ofSeconds(10));
    assertThat(a.getState()).as(a.getFailureReason()).isEqualTo(ModelState.SERVING);
    assertThat(b.getState()).as(b.getFailureReason()).isEqualTo(ModelState.SERVING);
    assertThat(a.getPrecision()).isEqualTo("int8");
    assertThat(a.getPrecisionAgreement().getRows()).isEqualTo(4); // the fixture's clean rows
    assertThat(a.getPrecisionAgreement().getAgreement()).isEqualTo(1.0);
    assertThat(b.getPrecisionAgreement()).isEqualTo(a.getPrecisionAgreement());
    assertThat(sidecar.backend.lowPrecisionBuilds.get()).isEqualTo(1);
    assertThat(c.classify("a", java.util.List.of("a good film"))).hasSize(1);
  }

  @Test
  void register_int8WithScreening_orAnUnknownPrecision_isInvalidArgumentOnPrecision() throws Exception {
    FinemixClient c = sidecar.startInProcess(new Fixture(tmp).config());
    StatusRuntimeException screened = catchThrowableOfType(StatusRuntimeException.class, () -> c.register(int8("s")
        .setScreening(ScreeningSettings.newBuilder().setPolicy(ScreenPolicy.OBSERVE)).build()));
    StatusRuntimeException unknown = catchThrowableOfType(StatusRuntimeException.class,
        () -> c.register(int8("u").setPrecision("fp16").build()));
    assertThat(screened.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(screened.getStatus().getDescription()).contains("precision int8 does not screen requests");
    assertThat(unknown.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
    assertThat(unknown.getStatus().getDescription()).contains("unknown precision 'fp16': expected one of [fp32, int8]");
  }
}

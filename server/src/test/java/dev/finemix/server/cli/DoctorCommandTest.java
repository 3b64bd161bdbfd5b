package dev.finemix.server.cli;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.testing.StdStreams;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * {@code finemix doctor} on the real engine of the default (CPU) build: it names the libtorch it loaded and where from,
 * sees no GPU, and lists ONNX Runtime's providers. (The GPU lines are exercised by deploy/gpu-check.sh on a GPU.)
 */
class DoctorCommandTest {
  @Test
  void cpuBuild_reportsEngineNativesFromTheDjlCache_zeroGpus_andOnnxRuntimeProviders() {
    StdStreams.Captured c = StdStreams.capture(() -> new CommandLine(new DoctorCommand()).execute());
    assertThat(c.code()).as(c.err()).isZero();
    String out = c.out();
    assertThat(line(out, "engine:")).startsWith("engine:      PyTorch 2.7.1, device cpu()");
    // the CPU natives come from the pytorch-native-cpu jar, unpacked into the DJL cache; no override is set in tests
    assertThat(line(out, "natives:")).contains("libtorch 2.7.1", "flavour cpu,", "from the DJL cache",
        "JNI pytorch-jni 2.7.1-0.36.0");
    assertThat(line(out, "gpus:")).isEqualTo("gpus:        0");
    assertThat(out).doesNotContain("  gpu:0");
    assertThat(line(out, "onnxruntime:")).startsWith("onnxruntime: 1.22.0, providers [").contains("CPU");
    assertThat(line(out, "pre-trained:")).contains("22,713,216 parameters");
    assertThat(out).endsWith("ok\n");
  }

  @Test
  void flavour_isTakenFromTheDjlCacheFolderName() {
    assertThat(DoctorCommand.flavour(java.nio.file.Path.of("/c/pytorch/2.5.1-20241101-cu124-linux-x86_64")))
        .isEqualTo("cu124");
    assertThat(DoctorCommand.flavour(java.nio.file.Path.of("/c/pytorch/2.7.1-20250812-cpu-linux-x86_64")))
        .isEqualTo("cpu");
  }

  private static String line(String out, String prefix) {
    return Arrays.stream(out.split("\n")).filter(l -> l.startsWith(prefix)).findFirst()
        .orElseThrow(() -> new AssertionError("no line '" + prefix + "' in:\n" + out));
  }
}

package dev.finemix.server.cli;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.LibUtils;
import ai.djl.util.cuda.CudaUtils;
import ai.onnxruntime.OrtEnvironment;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.Pretrained;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine.Command;

/**
 * Checks the installation: Java, the PyTorch engine and where its natives came from (unpacking the CPU natives on
 * first use, which is how the container image pre-unpacks them at build time), the GPUs the engine sees, ONNX
 * Runtime and its execution providers, the embedded pre-trained model and its tokenizer. Exit code 1 when the engine
 * does not load or computes wrong; deploy/gpu-check.sh reads these lines.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
    description = "Check the installation (engine, natives, GPUs, ONNX Runtime, embedded MiniLM, tokenizer); "
        + "unpacks natives once.")
public final class DoctorCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    System.out.println("java:        " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")");
    long t0 = System.nanoTime();
    Engine engine;
    try {
      engine = Engine.getEngine("PyTorch");
      try (NDManager m = NDManager.newBaseManager()) {
        NDArray x = m.create(new float[] {1, 2, 3});
        float sum = x.sum().getFloat();
        if (sum != 6f) {
          System.err.println("finemix doctor: engine computed 1+2+3 = " + sum);
          return 1;
        }
      }
    } catch (RuntimeException | LinkageError e) { // EngineException, UnsatisfiedLinkError from a mismatched JNI
      System.err.println("finemix doctor: the PyTorch engine did not load: " + causes(e));
      System.err.println("  PYTORCH_LIBRARY_PATH=" + env("PYTORCH_LIBRARY_PATH") + " PYTORCH_VERSION="
          + env("PYTORCH_VERSION") + " PYTORCH_FLAVOR=" + env("PYTORCH_FLAVOR") + "; the JNI in this build is pytorch-jni "
          + jniVersion() + " (cpu and cu128 flavours), made for that libtorch version only");
      return 1;
    }
    System.out.printf(Locale.ROOT, "engine:      %s %s, device %s (%.1f s to start)%n", engine.getEngineName(),
        engine.getVersion(), engine.defaultDevice(), (System.nanoTime() - t0) / 1e9);
    Path lib = Path.of(LibUtils.getLibtorchPath());
    System.out.println("natives:     libtorch " + LibUtils.getVersion() + ", flavour " + flavour(lib) + ", from "
        + source(lib) + ", JNI pytorch-jni " + jniVersion());
    int gpus = engine.getGpuCount();
    System.out.println("gpus:        " + gpus + (gpus > 0 ? ", CUDA runtime " + CudaUtils.getCudaVersionString() : ""));
    List<String> names = gpus > 0 ? gpuNames() : List.of();
    for (int i = 0; i < gpus; i++) {
      long total = CudaUtils.getGpuMemory(Device.gpu(i)).getMax();
      System.out.printf(Locale.ROOT, "  gpu:%d      %s, %,d MiB, compute capability %s%n", i,
          i < names.size() ? names.get(i) : "(name unknown: no nvidia-smi)", total >> 20,
          CudaUtils.getComputeCapability(i));
    }
    try {
      System.out.println("onnxruntime: " + OrtEnvironment.getEnvironment().getVersion() + ", providers "
          + OrtEnvironment.getAvailableProviders());
    } catch (RuntimeException | LinkageError e) { // the int8 path needs it; fp32 serving does not
      System.out.println("onnxruntime: unavailable (" + causes(e) + ")");
    }
    long t1 = System.nanoTime();
    Pretrained p = Pretrained.load(Pretrained.MINILM);
    System.out.printf(Locale.ROOT, "pre-trained: %s, %d tensors, %,d parameters, sha256 %s (%.1f s)%n", p.id(),
        p.weights().size(), p.weights().parameterCount(), p.weightsSha256().substring(0, 16),
        (System.nanoTime() - t1) / 1e9);
    try (Tokenizer tok = Tokenizer.fromFile(p.tokenizerJson(), 128)) {
      System.out.println("tokenizer:   vocab " + tok.vocabSize() + ", 'hello world' -> "
          + java.util.Arrays.toString(tok.encode("hello world", null).ids()));
    }
    System.out.println("ok");
    return 0;
  }

  /**
   * The libtorch flavour: {@code PYTORCH_FLAVOR} when libtorch came from {@code PYTORCH_LIBRARY_PATH} (DJL takes it
   * from there), else the flavour DJL put in the cache folder's name ({@code 2.7.1-20250812-cpu-linux-x86_64}).
   */
  static String flavour(Path lib) {
    if (fromOverride(lib)) {
      String f = System.getenv("PYTORCH_FLAVOR");
      return f == null ? "cpu-precxx11 (DJL's default: set PYTORCH_FLAVOR)" : f;
    }
    String[] parts = lib.getFileName().toString().split("-");
    for (String part : parts) {
      if (part.equals("cpu") || part.matches("cu\\d+")) {
        return part;
      }
    }
    return "unknown";
  }

  private static String source(Path lib) {
    return fromOverride(lib) ? "PYTORCH_LIBRARY_PATH " + lib
        : "the DJL cache " + lib + " (unpacked from the pytorch-native jar)";
  }

  private static boolean fromOverride(Path lib) {
    String override = System.getenv("PYTORCH_LIBRARY_PATH");
    if (override == null) {
      return false;
    }
    for (String entry : override.split(java.io.File.pathSeparator)) {
      try {
        if (!entry.isEmpty() && Files.isSameFile(Path.of(entry), lib)) {
          return true;
        }
      } catch (IOException e) {
        // an entry that does not exist is not where libtorch came from
      }
    }
    return false;
  }

  /** pytorch-jni's version ({@code 2.7.1-0.36.0}), from the properties file its jar carries. */
  private static String jniVersion() {
    try (InputStream in = LibUtils.class.getResourceAsStream("/jnilib/pytorch.properties")) {
      if (in == null) {
        return "(no pytorch-jni jar on the class path)";
      }
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("jni_version", "(unknown)");
    } catch (IOException e) {
      return "(unreadable: " + e.getMessage() + ")";
    }
  }

  /** GPU names from nvidia-smi, when it is on the PATH (CUDA's runtime API has no call that JNA can map simply). */
  private static List<String> gpuNames() {
    try {
      Process p = new ProcessBuilder("nvidia-smi", "--query-gpu=name", "--format=csv,noheader")
          .redirectErrorStream(true).start();
      p.getOutputStream().close();
      if (!p.waitFor(10, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        return List.of();
      }
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      return p.exitValue() == 0 ? out.lines().map(String::trim).filter(s -> !s.isEmpty()).toList() : List.of();
    } catch (IOException e) {
      return List.of();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return List.of();
    }
  }

  private static String causes(Throwable e) {
    StringBuilder sb = new StringBuilder();
    for (Throwable t = e; t != null; t = t.getCause()) {
      sb.append(sb.length() == 0 ? "" : " <- ").append(t.getClass().getSimpleName()).append(": ").append(t.getMessage());
    }
    return sb.toString();
  }

  private static String env(String name) {
    String v = System.getenv(name);
    return v == null ? "(unset)" : v;
  }
}

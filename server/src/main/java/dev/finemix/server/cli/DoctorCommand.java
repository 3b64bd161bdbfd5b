package dev.finemix.server.cli;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.Pretrained;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/**
 * Checks the installation: Java, the PyTorch engine and its natives (unpacking them on first use, which is how the
 * container image pre-unpacks them at build time), the embedded pre-trained model and its tokenizer.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
    description = "Check the installation (engine, natives, embedded MiniLM, tokenizer); unpacks natives once.")
public final class DoctorCommand implements Callable<Integer> {
  @Override
  public Integer call() {
    System.out.println("java:        " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name") + ")");
    long t0 = System.nanoTime();
    Engine engine = Engine.getEngine("PyTorch");
    try (NDManager m = NDManager.newBaseManager()) {
      NDArray x = m.create(new float[] {1, 2, 3});
      float sum = x.sum().getFloat();
      if (sum != 6f) {
        System.err.println("finemix doctor: engine computed 1+2+3 = " + sum);
        return 1;
      }
    }
    System.out.printf("engine:      %s %s, device %s, GPUs %d (%.1f s to start)%n", engine.getEngineName(),
        engine.getVersion(), engine.defaultDevice(), engine.getGpuCount(), (System.nanoTime() - t0) / 1e9);
    System.out.println("natives:     " + ai.djl.util.Utils.getEngineCacheDir("pytorch"));
    long t1 = System.nanoTime();
    Pretrained p = Pretrained.load(Pretrained.MINILM);
    System.out.printf("pre-trained: %s, %d tensors, %,d parameters, sha256 %s (%.1f s)%n", p.id(), p.weights().size(),
        p.weights().parameterCount(), p.weightsSha256().substring(0, 16), (System.nanoTime() - t1) / 1e9);
    try (Tokenizer tok = Tokenizer.fromFile(p.tokenizerJson(), 128)) {
      System.out.println("tokenizer:   vocab " + tok.vocabSize() + ", 'hello world' -> "
          + java.util.Arrays.toString(tok.encode("hello world", null).ids()));
    }
    System.out.println("ok");
    return 0;
  }
}

package dev.finemix.bench;

import dev.finemix.purify.defence.Mixer;
import dev.finemix.purify.weights.TensorMap;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** Fine-mixing's weight mixing over every MiniLM tensor (22.7M entries), random and sel masks, rho 0.3. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.SingleShotTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2)
@Measurement(iterations = 5)
@Fork(value = 1, jvmArgsAppend = {"-Xmx3g"})
public class MixerBench {
  @Param({"RANDOM", "SEL"})
  public Mixer.Mode mode;

  private TensorMap fineTuned;
  private TensorMap pretrained;

  @Setup
  public void setUp() {
    fineTuned = BenchData.miniLmWeights(1);
    pretrained = BenchData.miniLmWeights(2);
  }

  @Benchmark
  public Mixer.Result mixMiniLm() {
    return Mixer.mix(fineTuned, pretrained, mode, 0.3, 42);
  }
}

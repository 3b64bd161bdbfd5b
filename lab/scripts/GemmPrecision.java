// GEMM throughput of libtorch through DJL at one dtype, for docs/performance.md ("bf16 and fp16 through DJL").
// Run: OMP_WAIT_POLICY=PASSIVE java -Dai.djl.offline=true -Dai.djl.pytorch.num_threads=1 \
//        -cp app/target/finemix.jar lab/scripts/GemmPrecision.java float32|float16|bfloat16
// bfloat16 aborts the JVM in DJL's PyTorch JNI (measured with DJL 0.3x, libtorch 2.7.1): that is the finding.
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import java.util.Locale;

public class GemmPrecision {
  public static void main(String[] args) {
    DataType dt = DataType.valueOf(args.length > 0 ? args[0].toUpperCase(Locale.ROOT) : "FLOAT32");
    int[][] shapes = {{512, 384, 384}, {512, 384, 1536}, {512, 1536, 384}}; // rows, in, out: MiniLM's linears
    try (NDManager m = NDManager.newBaseManager()) {
      for (int[] s : shapes) {
        NDArray x = m.randomNormal(new Shape(s[0], s[1])).toType(dt, false);
        NDArray w = m.randomNormal(new Shape(s[2], s[1])).toType(dt, false);
        NDArray b = m.zeros(new Shape(s[2])).toType(dt, false);
        for (int i = 0; i < 5; i++) Linear.linear(x, w, b).singletonOrThrow().close();
        int n = 30;
        long t = System.nanoTime();
        for (int i = 0; i < n; i++) Linear.linear(x, w, b).singletonOrThrow().close();
        double ms = (System.nanoTime() - t) / 1e6 / n;
        System.out.printf(Locale.ROOT, "%s %dx%d->%d  %.3f ms  %.1f GFLOP/s%n", dt, s[0], s[1], s[2], ms,
            2.0 * s[0] * s[1] * s[2] / ms / 1e6);
      }
    }
  }
}

// Writes the starting checkpoint for transformers_sst2.py: MiniLM + a seed-42 head, with the word-embedding rows
// that no text of the given TSVs uses set to zero (so the folder is small enough to carry to a GPU machine; unused
// rows never reach the model). Run with the server's class path:
//   java -Dai.djl.offline=true -cp "app/target/finemix.jar:app/target/lib/*" bench/reference/ExportInit.java \
//     OUT_DIR ../shared/data/sst2/train.tsv ../shared/data/sst2/dev.tsv
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.text.*;
import dev.finemix.purify.weights.*;
import ai.djl.Device;
import java.nio.file.*;
import java.util.*;

public class ExportInit {
  public static void main(String[] a) throws Exception {
    Pretrained pre = Pretrained.load(Pretrained.MINILM);
    BitSet used = new BitSet();
    try (Tokenizer tok = Tokenizer.fromFile(pre.tokenizerJson(), 128)) {
      for (int i = 1; i < a.length; i++) {
        for (Example e : Dataset.read(Path.of(a[i])).rows()) {
          for (long id : tok.encode(e.textA(), e.textB()).ids()) used.set((int) id);
        }
      }
    }
    System.out.println("used ids " + used.cardinality());
    try (BertClassifier m = BertClassifier.fromPretrained(pre, List.of("negative", "positive"), 42, Device.cpu())) {
      TensorMap w = m.toTensors();
      Tensor we = w.require("bert.embeddings.word_embeddings.weight");
      float[] d = we.data();
      int h = we.rowSize();
      for (int r = 0; r < we.rows(); r++) if (!used.get(r)) Arrays.fill(d, r * h, (r + 1) * h, 0f);
      Checkpoint.of(m.config(), w, pre.tokenizerJson(), pre.id(), 128).write(Path.of(a[0]));
    }
  }
}

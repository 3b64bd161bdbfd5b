package dev.finemix.purify.weights;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The base is found from the suspect's shapes and weights: three tiny random bases (checkpoint folders), a suspect
 * fine-tuned (a small perturbation) from the second, and a base of other shapes.
 */
class BaseIdentificationTest {
  @TempDir Path dir;

  Pretrained base(String name, BertConfig c, long seed) {
    Path p = dir.resolve(name);
    Checkpoint.of(c.withLabels(List.of()), TinyModels.weights(c.withLabels(List.of()), seed),
        Pretrained.load(Pretrained.MINILM).tokenizerJson(), "", 64).write(p);
    return Pretrained.load(p.toString());
  }

  /** The base's weights with N(0, 0.001) added to each (about 5% of their scale) and a labelled head. */
  static Checkpoint fineTuned(Pretrained base, long seed) {
    Random r = new Random(seed);
    BertConfig c = base.config().withLabels(List.of("0", "1"));
    TensorMap w = TinyModels.weights(c, seed); // the head comes from here
    for (String name : base.weights().names()) {
      float[] b = base.weights().get(name).data();
      float[] d = new float[b.length];
      for (int i = 0; i < d.length; i++) {
        d[i] = b[i] + (float) (r.nextGaussian() * 0.001);
      }
      w.put(name, new Tensor(base.weights().get(name).shape(), d));
    }
    return Checkpoint.of(c, w, base.tokenizerJson(), "", 64);
  }

  @Test
  void rightBase_isFoundAmongSeveral_andTheOthersDoNotMatch() {
    BertConfig c = TinyModels.config(0);
    Pretrained a = base("a", c, 1);
    Pretrained b = base("b", c, 2);
    Pretrained other = base("wide", new BertConfig(30522, 48, 2, 4, 64, 128, 2, 1e-12, 0.1, 0.1, List.of()), 4);
    Checkpoint suspect = fineTuned(b, 9);
    List<Pretrained.Match> found = Pretrained.identify(suspect, List.of(a, b, other));
    assertThat(found).filteredOn(Pretrained.Match::matches).extracting(Pretrained.Match::id).containsExactly(b.id());
    assertThat(found.get(0).distance()).isLessThan(0.1);
    assertThat(found).filteredOn(m -> m.id().equals(a.id())).singleElement()
        .satisfies(m -> assertThat(m.distance()).isGreaterThan(1.0));
    assertThat(found).filteredOn(m -> m.id().equals(other.id())).singleElement()
        .satisfies(m -> assertThat(m.shapes()).isEqualTo("hidden_size 32 vs the base's 48"));
    Pretrained.requireFineTunedFrom(suspect, b, found); // accepted
  }

  @Test
  void wrongBase_isRefused_namingTheBasesThatMatch() {
    BertConfig c = TinyModels.config(0);
    Pretrained a = base("a", c, 1);
    Pretrained b = base("b", c, 2);
    Checkpoint suspect = fineTuned(b, 9);
    List<Pretrained.Match> found = Pretrained.identify(suspect, List.of(a, b));
    assertThatThrownBy(() -> Pretrained.requireFineTunedFrom(suspect, a, found))
        .isInstanceOf(WeightsException.class)
        .hasMessageStartingWith("the checkpoint was not fine-tuned from '" + a.id() + "' (relative weight distance")
        .hasMessageContaining("bases that match: [" + b.id() + " (distance 0.0");
    // the same among the claimed base, others (each once) and the catalogue, compared by shape alone at hidden 32
    List<Pretrained.Match> withCatalogue = Pretrained.identify(suspect, a, List.of(b, a));
    assertThat(withCatalogue).extracting(Pretrained.Match::id).startsWith(b.id(), a.id())
        .hasSize(2 + Pretrained.catalogue().size()).doesNotHaveDuplicates();
    assertThatThrownBy(() -> Pretrained.requireFineTunedFrom(suspect, a, withCatalogue))
        .hasMessageContaining("bases that match: [" + b.id() + " (distance 0.0");
  }

  @Test
  void wrongShapes_againstTheCatalogue_isRefusedSayingHowAndThatNoneMatches() {
    Pretrained a = base("a", TinyModels.config(0), 1);
    Checkpoint suspect = fineTuned(a, 9);
    // MiniLM claimed for a hidden-32 suspect: the catalogue is compared by shape alone, nothing 130 MB is loaded
    List<Pretrained.Match> found = Pretrained.identify(suspect, Pretrained.load(Pretrained.MINILM));
    assertThat(found).noneMatch(Pretrained.Match::matches).hasSize(Pretrained.catalogue().size());
    assertThatThrownBy(() -> Pretrained.requireFineTunedFrom(suspect, Pretrained.load(Pretrained.MINILM), found))
        .isInstanceOf(WeightsException.class)
        .hasMessage("the checkpoint was not fine-tuned from '" + Pretrained.MINILM + "' (hidden_size 32 vs the "
            + "base's 384, num_hidden_layers 2 vs the base's 6, num_attention_heads 4 vs the base's 12, "
            + "intermediate_size 64 vs the base's 1536, "
            + "max_position_embeddings 128 vs the base's 512); no known base matches it (register its base as a "
            + "checkpoint folder)");
  }

  /**
   * Real weights of one shape: bge-small and e5-small are both 12 x 384 BERTs. bge's encoder with a fresh head (a
   * bge fine-tune before its first step) claimed as an e5 fine-tune is refused by its distance, naming bge.
   */
  @Test
  void bgeSuspect_claimedFromE5_refusedByWeightDistance_namingBge() {
    Pretrained bge = Pretrained.load(Pretrained.BGE_SMALL);
    Pretrained e5 = Pretrained.load(Pretrained.E5_SMALL);
    BertConfig c = bge.config().withLabels(List.of("0", "1"));
    TensorMap w = TinyModels.weights(c, 1); // the head and a pooler come from here
    bge.weights().entries().forEach(e -> w.put(e.getKey(), e.getValue()));
    Checkpoint suspect = Checkpoint.of(c, w, bge.tokenizerJson(), "", 128);

    List<Pretrained.Match> found = Pretrained.identify(suspect, e5);

    assertThat(found).extracting(Pretrained.Match::id)
        .containsExactly(Pretrained.BGE_SMALL, Pretrained.E5_SMALL, Pretrained.MINILM);
    assertThatThrownBy(() -> Pretrained.requireFineTunedFrom(suspect, e5, found)).hasMessage("the checkpoint was not"
        + " fine-tuned from '" + Pretrained.E5_SMALL + "' (relative weight distance 0.733 > 0.25); bases that match: ["
        + Pretrained.BGE_SMALL + " (distance 0.00)]");
  }

  @Test
  void nameOrPath_ofACataloguedBase_becomesTheCheckpointsBase() throws Exception {
    Pretrained a = base("a", TinyModels.config(0), 1);
    Path ck = dir.resolve("ck");
    fineTuned(a, 9).write(ck);
    Files.delete(ck.resolve("finemix.json"));
    Path cfg = ck.resolve("config.json");
    String json = Files.readString(cfg);
    Files.writeString(cfg, "{\"_name_or_path\": \"BAAI/bge-small-en-v1.5\", " + json.substring(1));
    assertThat(Checkpoint.read(ck).baseModelId()).isEqualTo(Pretrained.BGE_SMALL);
    Files.writeString(cfg, "{\"_name_or_path\": \"/home/me/out\", " + json.substring(1));
    assertThat(Checkpoint.read(ck).baseModelId()).isEmpty();
  }
}

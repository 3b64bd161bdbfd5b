package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.finemix.purify.weights.Tensor;
import dev.finemix.purify.weights.TensorMap;
import java.util.Random;
import org.junit.jupiter.api.Test;

class MixerTest {

  private static Tensor random(long seed, long... shape) {
    long n = 1;
    for (long d : shape) n *= d;
    Random r = new Random(seed);
    float[] a = new float[(int) n];
    for (int i = 0; i < a.length; i++) a[i] = (float) r.nextGaussian();
    return new Tensor(shape, a);
  }

  private static TensorMap fineTuned() {
    TensorMap m = new TensorMap();
    m.put("bert.embeddings.word_embeddings.weight", random(1, 300, 32));
    m.put("bert.encoder.layer.0.attention.self.query.weight", random(2, 32, 32));
    m.put("bert.encoder.layer.0.attention.self.query.bias", random(3, 32));
    m.put("bert.extra.adapter.weight", random(4, 8, 32));
    m.put("classifier.weight", random(5, 2, 32));
    m.put("classifier.bias", random(6, 2));
    return m;
  }

  private static TensorMap pretrained() {
    TensorMap m = new TensorMap();
    m.put("bert.embeddings.word_embeddings.weight", random(11, 300, 32));
    m.put("bert.encoder.layer.0.attention.self.query.weight", random(12, 32, 32));
    m.put("bert.encoder.layer.0.attention.self.query.bias", random(13, 32));
    return m;
  }

  @Test
  void mix_leavesTheHeadUntouched() {
    TensorMap ft = fineTuned();
    float[] head = ft.get("classifier.weight").data().clone();
    float[] bias = ft.get("classifier.bias").data().clone();
    for (Mixer.Mode mode : Mixer.Mode.values()) {
      Mixer.Result r = Mixer.mix(ft, pretrained(), mode, 0.1, 7);
      assertThat(r.weights().get("classifier.weight").data()).isEqualTo(head);
      assertThat(r.weights().get("classifier.bias").data()).isEqualTo(bias);
    }
  }

  @Test
  void mix_leavesTensorsWithoutPretrainedCounterpartUntouched() {
    TensorMap ft = fineTuned();
    float[] extra = ft.get("bert.extra.adapter.weight").data().clone();
    Mixer.Result r = Mixer.mix(ft, pretrained(), Mixer.Mode.RANDOM, 0.0, 7);
    assertThat(r.weights().get("bert.extra.adapter.weight").data()).isEqualTo(extra);
    assertThat(r.stats().tensorsMixed()).isEqualTo(3);
    assertThat(r.stats().tensorsUntouched()).isEqualTo(3);
    // rho 0: every mixed tensor is the pre-trained one
    assertThat(r.weights().get("bert.encoder.layer.0.attention.self.query.bias").data())
        .isEqualTo(pretrained().get("bert.encoder.layer.0.attention.self.query.bias").data());
    assertThat(r.weights().names()).containsExactlyElementsOf(ft.names());
  }

  @Test
  void mix_doesNotModifyItsInputs() {
    TensorMap ft = fineTuned();
    TensorMap pre = pretrained();
    TensorMap ftCopy = ft.copy();
    TensorMap preCopy = pre.copy();
    Mixer.mix(ft, pre, Mixer.Mode.SEL, 0.3, 1);
    Mixer.mix(ft, pre, Mixer.Mode.RANDOM, 0.3, 1);
    for (String n : ft.names()) assertThat(ft.get(n).data()).isEqualTo(ftCopy.get(n).data());
    for (String n : pre.names()) assertThat(pre.get(n).data()).isEqualTo(preCopy.get(n).data());
  }

  @Test
  void random_shareKept_isRho_andRepeatable_andSeedDependent() {
    TensorMap ft = fineTuned();
    Mixer.Result a = Mixer.mix(ft, pretrained(), Mixer.Mode.RANDOM, 0.3, 42);
    Mixer.Result b = Mixer.mix(ft, pretrained(), Mixer.Mode.RANDOM, 0.3, 42);
    Mixer.Result c = Mixer.mix(ft, pretrained(), Mixer.Mode.RANDOM, 0.3, 43);
    long n = a.stats().entries();
    assertThat(n).isEqualTo(300 * 32 + 32 * 32 + 32);
    double sigma = Math.sqrt(n * 0.3 * 0.7);
    assertThat(Math.abs(a.stats().kept() - 0.3 * n)).isLessThan(4 * sigma);
    String w = "bert.embeddings.word_embeddings.weight";
    assertThat(a.weights().get(w).data()).isEqualTo(b.weights().get(w).data());
    assertThat(a.weights().get(w).data()).isNotEqualTo(c.weights().get(w).data());
  }

  @Test
  void random_maskOfATensor_doesNotDependOnTheOtherTensors() {
    String q = "bert.encoder.layer.0.attention.self.query.weight";
    TensorMap ft = fineTuned();
    TensorMap only = new TensorMap();
    only.put(q, ft.get(q));
    assertThat(Mixer.mix(only, pretrained(), Mixer.Mode.RANDOM, 0.5, 9).weights().get(q).data())
        .isEqualTo(Mixer.mix(ft, pretrained(), Mixer.Mode.RANDOM, 0.5, 9).weights().get(q).data());
  }

  @Test
  void sel_keepsRoundRhoNPerTensor() {
    Mixer.Result r = Mixer.mix(fineTuned(), pretrained(), Mixer.Mode.SEL, 0.3, 0);
    assertThat(r.stats().kept()).isEqualTo(Math.round(0.3 * 9600) + Math.round(0.3 * 1024) + Math.round(0.3 * 32));
  }

  @Test
  void mix_perTensorRho_isApplied() {
    Mixer.Result r = Mixer.mix(fineTuned(), pretrained(), Mixer.Mode.SEL,
        name -> name.contains("embeddings") ? 1.0 : 0.0, 0);
    assertThat(r.weights().get("bert.embeddings.word_embeddings.weight").data())
        .isEqualTo(fineTuned().get("bert.embeddings.word_embeddings.weight").data());
    assertThat(r.stats().kept()).isEqualTo(9600);
  }

  @Test
  void mix_shapeMismatch_namesTheTensor() {
    TensorMap pre = pretrained();
    pre.put("bert.encoder.layer.0.attention.self.query.bias", random(1, 33));
    assertThatThrownBy(() -> Mixer.mix(fineTuned(), pre, Mixer.Mode.RANDOM, 0.5, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bert.encoder.layer.0.attention.self.query.bias").hasMessageContaining("33");
  }

  @Test
  void mix_badRho_isRejected() {
    assertThatThrownBy(() -> Mixer.mix(fineTuned(), pretrained(), Mixer.Mode.RANDOM, -0.1, 0))
        .hasMessageContaining("-0.1");
    assertThatThrownBy(() -> Mixer.Mode.parse("half")).hasMessageContaining("half");
  }
}

package dev.finemix.purify.text;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.purify.weights.Pretrained;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class TokenizerTest {
  static Tokenizer tok;

  @BeforeAll
  static void load() {
    tok = Tokenizer.fromFile(Pretrained.load(Pretrained.MINILM).tokenizerJson(), 16);
  }

  @AfterAll
  static void close() {
    tok.close();
  }

  @Test
  void encode_single_addsClsSepAndLowercases() {
    Encoding e = tok.encode("Hello World", null);
    assertThat(e.ids()).containsExactly(101, 7592, 2088, 102);
    assertThat(e.typeIds()).containsOnly(0);
  }

  @Test
  void encode_pair_marksSecondSegmentWithTypeOne() {
    Encoding e = tok.encode("a question", "an answer");
    assertThat(e.ids()[0]).isEqualTo(101);
    int firstSep = -1;
    for (int i = 0; i < e.length(); i++) {
      if (e.ids()[i] == 102) {
        firstSep = i;
        break;
      }
    }
    assertThat(firstSep).isEqualTo(3);
    assertThat(e.typeIds()[firstSep]).isZero();
    assertThat(e.typeIds()[firstSep + 1]).isEqualTo(1);
    assertThat(e.typeIds()[e.length() - 1]).isEqualTo(1);
  }

  @Test
  void encode_longText_isTruncatedToMaxLength() {
    Encoding e = tok.encode("word ".repeat(100), null);
    assertThat(e.length()).isEqualTo(16);
    assertThat(e.ids()[15]).isEqualTo(102);
  }

  @Test
  void vocabulary_lookupsAgreeWithEncoding() {
    assertThat(tok.vocabSize()).isEqualTo(30522);
    assertThat(tok.tokenId("cf")).isEqualTo(tok.encode("cf", null).ids()[1]);
    assertThat(tok.token(101)).isEqualTo("[CLS]");
    assertThat(tok.tokenId("no-such-token-xyz")).isEqualTo(-1);
    java.util.List<String> pieces = tok.tokenize("Unaffable");
    assertThat(pieces).hasSizeGreaterThan(1);
    assertThat(String.join("", pieces).replace("##", "")).isEqualTo("unaffable");
    assertThat(pieces.subList(1, pieces.size())).allMatch(p -> p.startsWith("##"));
  }

  @Test
  void batch_padsToLongestRowWithMask() {
    Batch b = Batch.of(java.util.List.of(tok.encode("a b c d", null), tok.encode("a", null)));
    assertThat(b.rows()).isEqualTo(2);
    assertThat(b.seqLen()).isEqualTo(6);
    assertThat(b.mask()).containsExactly(1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0);
    assertThat(b.ids()[9]).isZero();
    assertThat(b.tokens()).isEqualTo(9);
  }
}

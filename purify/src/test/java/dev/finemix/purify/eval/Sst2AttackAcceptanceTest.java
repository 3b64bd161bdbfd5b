package dev.finemix.purify.eval;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.finemix.purify.attack.AttackKind;
import dev.finemix.purify.train.ProgressListener;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * The attack acceptance figures on SST-2 (4,000 training rows, 2 epochs, full dev set): BadNet ASR >= 0.95 with
 * CACC within 2 points of the clean model; AddSent and EP ASR >= 0.90. About 20 minutes on 2 busy cores the first
 * time; models and results are cached under {@code -Dfinemix.attack.cache} (default {@code target/attack-exp}).
 */
@Tag("heavy")
class Sst2AttackAcceptanceTest {

  @Test
  void sst2_4000rows_attacksReachTheirAsr() {
    Path data = Path.of(System.getProperty("finemix.shared", "../shared"), "data");
    assumeTrue(Files.isRegularFile(data.resolve("sst2/train.tsv")), "no SST-2 data under " + data);
    Path out = Path.of(System.getProperty("finemix.attack.cache", "target/attack-exp"));
    ExperimentSettings s = new ExperimentSettings(List.of("sst2"),
        List.of(AttackKind.BADNET, AttackKind.ADDSENT, AttackKind.EP), 4000, 0, 2, 32, 5e-5,
        dev.finemix.purify.attack.Backdoor.EP_LR, 1, 0.1, 128, 42, data, out, "cpu");
    List<ExperimentRow> rows = new Experiment(s, stage -> ProgressListener.NONE, System.err::println).run();
    assertThat(rows).hasSize(3);
    for (ExperimentRow r : rows) {
      EvalResult b = r.backdoored();
      switch (r.attack()) {
        case "badnet" -> {
          assertThat(b.asr()).as("badnet asr").isGreaterThanOrEqualTo(0.95);
          assertThat(Math.abs(b.cacc() - r.clean().cacc())).as("badnet cacc drop").isLessThanOrEqualTo(0.02);
        }
        default -> assertThat(b.asr()).as(r.attack() + " asr").isGreaterThanOrEqualTo(0.90);
      }
    }
  }
}

package dev.finemix.purify.defence;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The report's JSON is read back as it was written: the server's cache keeps reports as JSON. */
class DefenceReportTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  private static DefenceReport report(double rhoChosen, double before, double agreement) {
    Map<String, Double> stages = new LinkedHashMap<>();
    stages.put("epur", 1.5);
    stages.put("recover", 20.25);
    return new DefenceReport("in", "out", "minilm", "pre", "clean", 64, 48, 16, "unl", 900, 90, 0,
        DefenceSettings.builder().rows(64).epurTop(7).wordFrequencies(Path.of("/data/wf.tsv")).build(), rhoChosen,
        List.of(new DefenceReport.RhoTrial(0.1, 0.8, agreement, false, 0.1, 3.0),
            new DefenceReport.RhoTrial(0.2, 0.9, 0.95, true, 0.2, 3.5)),
        List.of(new Epur.Suspect(12935, "cf", 3.25, 1.5, 12), new Epur.Suspect(7, "mn", 2.0, 1.0, 0)),
        List.of(new DefenceReport.SuspectedTrigger("qzxv", List.of("q", "##z", "##x", "##v"), List.of("qzxv", "qxzv"),
            0.75, new DefenceReport.Flip(0.95, 0.91, 1))),
        "the 16 held-out labelled rows", before, 0.875, stages, 42.5, List.of("a note"));
  }

  @Test
  void fromJson_throughAFile_givesTheSameReport_nanIncluded() throws Exception {
    for (DefenceReport r : List.of(report(0.2, 0.9, 0.97), report(Double.NaN, Double.NaN, Double.NaN))) {
      String file = JSON.writeValueAsString(r.toJson());

      DefenceReport back = DefenceReport.fromJson(JSON.readTree(file));

      assertThat(back).isEqualTo(r);
      assertThat(JSON.writeValueAsString(back.toJson())).isEqualTo(file);
    }
  }

  @Test
  void fromJson_inMemory_givesTheSameReport() {
    DefenceReport r = report(Double.NaN, 0.5, Double.NaN);
    assertThat(DefenceReport.fromJson(r.toJson())).isEqualTo(r);
  }

  @Test
  void fromJson_absentKeys_readAsUnknown_badSettingsNamed() throws Exception {
    DefenceReport empty = DefenceReport.fromJson(JSON.readTree("{}"));
    assertThat(empty.settings()).isEqualTo(DefenceSettings.defaults());
    assertThat(Double.isNaN(empty.suspectAccuracy()) && Double.isNaN(empty.purifiedAccuracy())).isTrue();
    assertThat(empty.suspects()).isEmpty();
    assertThat(empty.suspectedTriggers()).isEmpty();
    assertThat(empty.accuracyRows()).isEmpty();

    assertThatThrownBy(() -> DefenceReport.fromJson(JSON.readTree("{\"settings\": {\"bogus\": 1}}")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bogus");
    assertThatThrownBy(() -> DefenceReport.fromJson(JSON.readTree("{\"total_seconds\": \"soon\"}")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("soon");
  }

  @Test
  void cleanData_readsWhereEachRowWent_andWhatRhoWasDecidedBy() throws Exception {
    DefenceReport r = report(0.2, 0.9, 0.97); // 16 labelled rows and 90 unlabelled rows held out, distillation
    CleanDataUse c = r.cleanData();
    assertThat(c).isEqualTo(new CleanDataUse(64, 48, 16, 900, 90,
        CleanDataUse.RhoBasis.HELD_OUT_ACCURACY_AND_AGREEMENT, CleanDataUse.RecoveryData.UNLABELLED_DISTILLATION,
        List.of()));
    assertThat(r.toJson().get("clean_data").get("rho_basis").asText()).isEqualTo("held-out-accuracy-and-agreement");
    assertThat(r.summary()).contains("clean data: 64 labelled (trained on 48, held out 16), 900 unlabelled (90 held "
        + "out for agreement); rho by accuracy on held-out labelled rows and agreement with the suspect; recovery on "
        + "unlabelled-distillation");

    // a fixed rho and cross-entropy on the labelled rows (the paper's recovery)
    DefenceSettings ce = DefenceSettings.builder().rho(0.3).recovery(DefenceSettings.Recovery.CE).build();
    CleanDataUse fixed = DefenceReport.fromJson(withSettings(r, ce)).cleanData();
    assertThat(fixed.rhoBasis()).isEqualTo(CleanDataUse.RhoBasis.FIXED);
    assertThat(fixed.recoveryData()).isEqualTo(CleanDataUse.RecoveryData.LABELLED_CROSS_ENTROPY);

    // a report cached before agreement_rows existed: the count is unknown (-1) but its trials measured agreement
    var old = r.toJson();
    ((com.fasterxml.jackson.databind.node.ObjectNode) old.get("unlabelled")).remove("agreement_rows");
    CleanDataUse back = DefenceReport.fromJson(JSON.readTree(JSON.writeValueAsString(old))).cleanData();
    assertThat(back.agreementRows()).isEqualTo(-1);
    assertThat(back.rhoBasis()).isEqualTo(CleanDataUse.RhoBasis.HELD_OUT_ACCURACY_AND_AGREEMENT);
    assertThat(DefenceReport.fromJson(JSON.readTree("{}")).agreementRows()).isZero();
  }

  @Test
  void cleanData_limitsGiveTheSpliceCountThePurificationRecorded() throws Exception {
    // 900 unlabelled rows filled with 50 splices: a limit, and the count survives a round trip
    var filled = report(0.2, 0.9, 0.97).toJson();
    filled.put("splice_rows", 50);
    DefenceReport f = DefenceReport.fromJson(JSON.readTree(JSON.writeValueAsString(filled)));
    assertThat(f.spliceRows()).isEqualTo(50);
    assertThat(DefenceReport.fromJson(f.toJson())).isEqualTo(f);
    assertThat(f.cleanData().limits()).containsExactly("900 unlabelled rows (the settings take up to 1000): 50 "
        + "splices of them filled the distillation set");

    // no unlabelled rows: the labelled rows and their splices stood in
    var standIn = report(0.2, 0.9, 0.97).toJson();
    ((com.fasterxml.jackson.databind.node.ObjectNode) standIn.get("unlabelled")).put("rows", 0).put("agreement_rows", 0);
    standIn.put("splice_rows", 936);
    assertThat(DefenceReport.fromJson(standIn).cleanData().limits()).contains("no unlabelled rows: distillation ran "
        + "on the 48 labelled rows and 936 splices of them standing in (weaker than unlabelled rows)");

    // a report cached before the count was kept: -1, and no count is made up for it
    standIn.remove("splice_rows");
    filled.remove("splice_rows");
    assertThat(DefenceReport.fromJson(standIn).spliceRows()).isEqualTo(-1);
    assertThat(DefenceReport.fromJson(standIn).cleanData().limits()).contains("no unlabelled rows: distillation ran "
        + "on the 48 labelled rows and splices of them standing in (weaker than unlabelled rows)");
    assertThat(DefenceReport.fromJson(filled).cleanData().limits()).isEmpty();
  }

  private static com.fasterxml.jackson.databind.JsonNode withSettings(DefenceReport r, DefenceSettings s) {
    var n = r.toJson();
    n.set("settings", s.toJson());
    return n;
  }

  @Test
  void suspectedStrings_stringsAndTokensByEvidenceOverHalfTheTopScore_distinct_atMostN() {
    // tau = 3.25 / 2: cf's excess 1.625 is above the string's 0.75; mn's 0.375 below it
    DefenceReport r = report(0.2, 0.9, 0.97);
    assertThat(r.suspectedStrings(5)).containsExactly("cf", "qzxv", "mn");
    assertThat(r.suspectedStrings(2)).containsExactly("cf", "qzxv");
    // a word-piece trigger: its pieces are the top suspects, and its string (their summed excess) leads
    DefenceReport pieces = new DefenceReport("in", "out", "minilm", "pre", "clean", 64, 64, 0, "", 0, 0, 0,
        DefenceSettings.builder().build(), 0.1, List.of(),
        List.of(new Epur.Suspect(1, "##z", 0.013, 1, 0), new Epur.Suspect(2, "##j", 0.012, 1, 0),
            new Epur.Suspect(3, "cat", 0.004, 1, 900), new Epur.Suspect(4, "##z", 0.001, 1, 0)),
        List.of(new DefenceReport.SuspectedTrigger("xzj", List.of("x", "##z", "##j"), List.of("xzj"), 0.0125),
            new DefenceReport.SuspectedTrigger("catz", List.of("cat", "##z"), List.of("catz"), 0.006)),
        "rows", 0.9, 0.9, Map.of(), 1, List.of());
    assertThat(pieces.suspectedStrings(5)).containsExactly("xzj", "##z", "catz", "##j", "cat");
    assertThat(pieces.suspectedStrings(1)).containsExactly("xzj");
    assertThat(r.summary()).contains("suspected triggers (from word pieces): qzxv = q ##z ##x ##v (0.750; flips 0.95 "
        + "to class 1)");
    assertThat(r.toJson().get("suspected_triggers").get(0).get("orders")).hasSize(2);
    assertThat(r.toJson().get("suspected_triggers").get(0).get("flip").get("pull").asDouble()).isEqualTo(0.91);
    // not tried on the suspect: no flip, in the record and in the JSON
    assertThat(pieces.suspectedTriggers().get(0).flip()).isNull();
    assertThat(pieces.toJson().get("suspected_triggers").get(0).has("flip")).isFalse();
  }
}

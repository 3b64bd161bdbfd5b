package dev.finemix.server.grpc;

import com.fasterxml.jackson.databind.node.ObjectNode;
import com.google.protobuf.Timestamp;
import dev.finemix.purify.defence.CleanDataUse;
import dev.finemix.purify.defence.DefenceReport;
import dev.finemix.proto.v1.DefenceSettings;
import dev.finemix.proto.v1.DefenceSummary;
import dev.finemix.proto.v1.DefendProgress;
import dev.finemix.proto.v1.InputKind;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.PrecisionAgreement;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.proto.v1.ScreenAction;
import dev.finemix.proto.v1.ScreenCalibration;
import dev.finemix.proto.v1.ScreeningSettings;
import dev.finemix.proto.v1.Suspicion;
import dev.finemix.purify.onnx.Precision;
import dev.finemix.server.config.InputKindSetting;
import dev.finemix.server.config.Json;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ScreenPolicy;
import dev.finemix.server.config.ScreeningLayer;
import dev.finemix.server.errors.ServiceException;
import dev.finemix.server.loading.Progress;
import dev.finemix.server.probe.ProbeReport;
import dev.finemix.server.probe.TokenProbe;
import dev.finemix.server.registry.ModelView;
import dev.finemix.server.registry.ScreeningReport;
import java.time.Instant;

/** Conversions between the proto messages and the server's own types. */
final class ProtoMapping {
  private ProtoMapping() {
  }

  /**
   * Defence settings as the JSON object handed to purify's {@code DefenceSettings.fromJson}: only the fields that
   * are set (keys mix, rho, epur_top, rows, epochs, lr, seed), extra_json underneath.
   */
  static ObjectNode defence(DefenceSettings s, String field) {
    ObjectNode out = Json.object();
    if (!s.getExtraJson().isBlank()) {
      try {
        out = Json.parseObject(field + ".extra_json", s.getExtraJson());
      } catch (IllegalArgumentException e) {
        throw ServiceException.badRequest(field + ".extra_json", e.getMessage());
      }
    }
    switch (s.getMix()) {
      case RANDOM -> out.put("mix", "random");
      case SEL -> out.put("mix", "sel");
      default -> { }
    }
    if (s.hasRho()) {
      if (!(s.getRho() > 0 && s.getRho() <= 1)) {
        throw ServiceException.badRequest(field + ".rho", "must be in (0, 1], got " + s.getRho());
      }
      out.put("rho", s.getRho());
    }
    if (s.hasAutoRho() && s.getAutoRho()) {
      if (s.hasRho()) {
        throw ServiceException.badRequest(field + ".auto_rho", "set rho or auto_rho, not both");
      }
      out.put("rho", "auto");
    }
    if (s.hasEpurTop()) {
      nonNegative(field + ".epur_top", s.getEpurTop());
      out.put("epur_top", s.getEpurTop());
      if (s.getEpurTop() == 0) {
        out.put("epur", false);
      }
    }
    if (s.hasCleanRows()) {
      positive(field + ".clean_rows", s.getCleanRows());
      out.put("rows", s.getCleanRows());
    }
    if (s.hasEpochs()) {
      nonNegative(field + ".epochs", s.getEpochs());
      out.put("epochs", s.getEpochs());
    }
    if (s.hasLearningRate()) {
      if (!(s.getLearningRate() > 0)) {
        throw ServiceException.badRequest(field + ".learning_rate", "must be > 0, got " + s.getLearningRate());
      }
      out.put("lr", s.getLearningRate());
    }
    if (s.hasSeed()) {
      out.put("seed", s.getSeed());
    }
    return out;
  }

  static ModelLayer layer(RegisterModelRequest r) {
    InputKindSetting kind = switch (r.getInputKind()) {
      case SINGLE -> InputKindSetting.SINGLE;
      case PAIR -> InputKindSetting.PAIR;
      default -> null;
    };
    return ModelLayer.builder().name(r.getName()).checkpoint(r.getCheckpointPath())
        .cleanSubset(emptyToNull(r.getCleanSubsetPath())).unlabelledSubset(emptyToNull(r.getUnlabelledSubsetPath()))
        .baseModel(emptyToNull(r.getBaseModel())).allowUnpurified(r.getAllowUnpurified() ? Boolean.TRUE : null)
        .inputKind(kind).defence(defence(r.getDefence(), "defence"))
        .screening(r.hasScreening() ? screening(r.getScreening()) : null)
        .precision(precision(r.getPrecision())).build();
  }

  /** The request's precision; null (the config decides) when empty. */
  static Precision precision(String p) {
    if (p.isEmpty()) {
      return null;
    }
    try {
      return Precision.parse(p);
    } catch (IllegalArgumentException e) {
      throw ServiceException.badRequest("precision", e.getMessage());
    }
  }

  /** The request's screening settings as a config layer; unset fields fall through. */
  static ScreeningLayer screening(ScreeningSettings s) {
    ScreenPolicy policy = switch (s.getPolicy()) {
      case OFF -> ScreenPolicy.OFF;
      case OBSERVE -> ScreenPolicy.OBSERVE;
      case REJECT -> ScreenPolicy.REJECT;
      case STRIP -> ScreenPolicy.STRIP;
      case SCREEN_POLICY_UNSPECIFIED -> null;
      default -> throw ServiceException.badRequest("screening.policy", "unknown value " + s.getPolicyValue()
          + " (expected OFF, OBSERVE, REJECT or STRIP)");
    };
    Double rate = null;
    if (s.hasFalseFlagRate()) {
      if (!(s.getFalseFlagRate() > 0 && s.getFalseFlagRate() < 0.5)) {
        throw ServiceException.badRequest("screening.false_flag_rate", "must be in (0, 0.5), got "
            + s.getFalseFlagRate());
      }
      rate = s.getFalseFlagRate();
    }
    try {
      return new ScreeningLayer(policy, rate, emptyToNull(s.getSignal()));
    } catch (IllegalArgumentException e) {
      throw ServiceException.badRequest("screening.signal", e.getMessage());
    }
  }

  static ScreeningSettings screening(dev.finemix.server.config.ScreeningSettings s) {
    return ScreeningSettings.newBuilder().setPolicy(policy(s.policy())).setFalseFlagRate(s.falseFlagRate())
        .setSignal(s.signal()).build();
  }

  static dev.finemix.proto.v1.ScreenPolicy policy(ScreenPolicy p) {
    return dev.finemix.proto.v1.ScreenPolicy.valueOf(p.name());
  }

  /** A row's screening verdict; null when it was not screened. */
  static Suspicion suspicion(dev.finemix.server.loading.Suspicion s) {
    return Suspicion.newBuilder().setScore(s.score()).setThreshold(s.threshold()).setFlagged(s.flagged())
        .addAllTokens(s.tokens()).setAction(switch (s.action()) {
          case PASSED -> ScreenAction.SCREEN_ACTION_UNSPECIFIED;
          case OBSERVED -> ScreenAction.OBSERVED;
          case STRIPPED -> ScreenAction.STRIPPED;
        }).build();
  }

  static ScreenCalibration calibration(ScreeningReport r) {
    ScreenCalibration.Builder b = ScreenCalibration.newBuilder().setPolicy(policy(r.policy()))
        .setScreenedInputs(r.screenedInputs()).setFlaggedInputs(r.flaggedInputs())
        .setUnavailableReason(nullToEmpty(r.unavailableReason()));
    var c = r.calibration();
    if (c != null) {
      b.setSignal(c.signal()).setThreshold(c.threshold()).setFalseFlagRate(c.falseFlagRate())
          .setCleanFlagRate(c.cleanFlagRate()).setRows(c.rows()).addAllTopTokens(c.topTokens());
    }
    return b.build();
  }

  static ModelInfo info(ModelView v) {
    ModelInfo.Builder b = ModelInfo.newBuilder()
        .setName(v.spec().name())
        .setState(dev.finemix.proto.v1.ModelState.valueOf(v.state().name()))
        .setCheckpointPath(v.spec().checkpoint())
        .setCleanSubsetPath(nullToEmpty(v.spec().cleanSubset()))
        .setUnlabelledSubsetPath(nullToEmpty(v.spec().unlabelledSubset()))
        .setBaseModel(nullToEmpty(v.baseModel()))
        .addAllLabels(v.labels())
        .setInputKind(v.pair() ? InputKind.PAIR : InputKind.SINGLE)
        .setSuspectWeightsSha256(nullToEmpty(v.suspectSha256()))
        .setServedWeightsSha256(nullToEmpty(v.servedSha256()))
        .setPurified(v.purified())
        .setAllowUnpurified(v.spec().allowUnpurified())
        .setDefenceSettingsJson(Json.write(v.spec().defence()))
        .setFailureReason(nullToEmpty(v.failureReason()))
        .setQueueDepth(v.queueDepth())
        .setCacheKey(nullToEmpty(v.cacheKey()))
        .setScreening(screening(v.spec().screening()))
        .setPrecision(v.spec().precision().id());
    if (v.precisionAgreement() != null) {
      b.setPrecisionAgreement(PrecisionAgreement.newBuilder().setRows(v.precisionAgreement().rows())
          .setAgreement(v.precisionAgreement().agreement()).setMaxProbDiff(v.precisionAgreement().maxProbDiff()));
    }
    if (v.servingSince() != null) {
      b.setServingSince(timestamp(v.servingSince()));
    }
    if (v.report() != null) {
      b.setDefenceReportJson(Json.write(v.report().toJson()));
      b.setDefenceSummary(summary(v.report(), v));
    }
    return b.build();
  }

  /** Key fields of a defence report; -1 for a clean accuracy that was not measured. */
  static DefenceSummary summary(DefenceReport report, ModelView v) {
    var s = report.settings();
    double rho = !Double.isNaN(report.rhoChosen()) ? report.rhoChosen() : !Double.isNaN(s.rho()) ? s.rho() : 0;
    return DefenceSummary.newBuilder()
        .setMix(s.mixing() ? s.mix().name() : "NONE")
        .setRho(rho)
        .setEpurReset(s.epur() ? s.epurTop() : 0)
        .addAllSuspectedTokens(v.suspectedTokens())
        .setCleanAccuracy(Double.isNaN(report.purifiedAccuracy()) ? -1 : report.purifiedAccuracy())
        .setSeconds(v.fromCache() ? 0 : report.totalSeconds())
        .setFromCache(v.fromCache())
        .setCleanData(cleanData(report.cleanData()))
        .build();
  }

  static dev.finemix.proto.v1.CleanDataUse cleanData(CleanDataUse c) {
    return dev.finemix.proto.v1.CleanDataUse.newBuilder().setLabelledRows(c.labelledRows())
        .setTrainedLabelledRows(c.trainedLabelledRows()).setHeldOutLabelledRows(c.heldOutLabelledRows())
        .setUnlabelledRows(c.unlabelledRows()).setAgreementRows(c.agreementRows()).setRhoBasis(c.rhoBasis().id())
        .setRecoveryData(c.recoveryData().id()).addAllLimits(c.limits()).build();
  }

  static DefendProgress progress(Progress p) {
    return DefendProgress.newBuilder().setStage(p.stage()).setPercent(Math.max(0, Math.min(100, p.percent())))
        .setMessage(nullToEmpty(p.message())).setStageDone(p.done()).setStageTotal(p.total()).setLoss(p.loss())
        .setEtaMillis(p.etaMillis()).build();
  }

  static dev.finemix.proto.v1.ProbeReport probe(String name, ProbeReport r, long suspectedRequests,
      ScreeningReport screening) {
    dev.finemix.proto.v1.ProbeReport.Builder b = dev.finemix.proto.v1.ProbeReport.newBuilder().setName(name)
        .setServedWeightsSha256(nullToEmpty(r.servedWeightsSha256())).setRows(r.rows())
        .setRequestsWithSuspectedTokens(suspectedRequests).setMeasuredAt(timestamp(r.measuredAt()))
        .setScreening(calibration(screening));
    for (TokenProbe t : r.tokens()) {
      b.addTokens(dev.finemix.proto.v1.TokenProbe.newBuilder().setToken(t.token()).setSuspected(t.suspected())
          .setFlipRateBefore(t.flipRateBefore()).setFlipRateAfter(t.flipRateAfter()));
    }
    return b.build();
  }

  static Timestamp timestamp(Instant i) {
    return Timestamp.newBuilder().setSeconds(i.getEpochSecond()).setNanos(i.getNano()).build();
  }

  private static void positive(String field, long v) {
    if (v <= 0) {
      throw ServiceException.badRequest(field, "must be > 0, got " + v);
    }
  }

  private static void nonNegative(String field, long v) {
    if (v < 0) {
      throw ServiceException.badRequest(field, "must be >= 0, got " + v);
    }
  }

  static String nullToEmpty(String s) {
    return s == null ? "" : s;
  }

  private static String emptyToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }
}

package dev.finemix.client.cli;

import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.InputKind;
import dev.finemix.proto.v1.ModelInfo;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.proto.v1.ScreenPolicy;
import dev.finemix.proto.v1.ScreeningSettings;
import java.io.PrintWriter;
import java.time.Duration;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "register", mixinStandardHelpOptions = true,
    description = "Register a checkpoint (purified before it serves unless --allow-unpurified). Needs the admin token.")
public final class RegisterCommand extends ClientCommand {
  @Option(names = "--name", required = true, description = "Model name.")
  String name;

  @Option(names = "--checkpoint", required = true, description = "Checkpoint folder relative to the server's models root.")
  String checkpoint;

  @Option(names = "--clean", description = "Clean subset TSV relative to the server's data root.")
  String clean;

  @Option(names = "--unlabelled", description = "Unlabelled clean TSV (distillation) relative to the server's data root.")
  String unlabelled;

  @Option(names = "--base-model", description = "Pre-trained model id the checkpoint was fine-tuned from.")
  String baseModel;

  @Option(names = "--allow-unpurified", description = "Serve the checkpoint as is (no purification); only on a server"
      + " started with --allow-unpurified-models.")
  boolean allowUnpurified;

  @Option(names = "--input-kind", description = "SINGLE or PAIR (default: from the clean subset).")
  InputKind inputKind;

  @Option(names = "--replace", description = "Replace a model of the same name.")
  boolean replace;

  @Option(names = "--wait", description = "Wait until the model serves or fails, up to this many seconds (0 = do not wait).",
      defaultValue = "0")
  long waitSeconds;

  @Option(names = "--screen", paramLabel = "POLICY",
      description = "Request-time screening: off, observe, reject or strip (default: the server's, then observe).")
  String screen;

  @Option(names = "--false-flag-rate", paramLabel = "RATE",
      description = "Screening: target share of clean inputs flagged, in (0, 0.5) (default: the server's, then 0.01).")
  Double falseFlagRate;

  @Option(names = "--screen-signal", paramLabel = "SIGNAL",
      description = "Screening signal: tokens, features, combined or perturbation (default: tokens).")
  String screenSignal;

  @Option(names = "--precision", paramLabel = "P", description = "fp32 or int8: what the purified weights are served at"
      + " (int8: ONNX Runtime, checked against fp32 on the clean rows; no screening). Default: the server's config.")
  String precision;

  @ArgGroup(exclusive = false, heading = "Defence settings%n")
  DefenceOptions defence = new DefenceOptions();

  @Override
  void run(FinemixClient client, PrintWriter out) throws InterruptedException {
    RegisterModelRequest.Builder r = RegisterModelRequest.newBuilder().setName(name).setCheckpointPath(checkpoint)
        .setAllowUnpurified(allowUnpurified).setReplace(replace).setDefence(defence.toProto());
    if (clean != null) {
      r.setCleanSubsetPath(clean);
    }
    if (unlabelled != null) {
      r.setUnlabelledSubsetPath(unlabelled);
    }
    if (baseModel != null) {
      r.setBaseModel(baseModel);
    }
    if (inputKind != null) {
      r.setInputKind(inputKind);
    }
    if (precision != null) {
      r.setPrecision(precision);
    }
    if (screen != null || falseFlagRate != null || screenSignal != null) {
      ScreeningSettings.Builder s = ScreeningSettings.newBuilder();
      if (screen != null) {
        s.setPolicy(policy(screen));
      }
      if (falseFlagRate != null) {
        s.setFalseFlagRate(falseFlagRate);
      }
      if (screenSignal != null) {
        s.setSignal(screenSignal);
      }
      r.setScreening(s);
    }
    ModelInfo m = client.register(r.build());
    out.println(ModelsCommand.line(m));
    if (waitSeconds > 0) {
      m = client.awaitSettled(name, Duration.ofSeconds(waitSeconds));
      out.println(ModelsCommand.line(m));
      if (m.getState() == ModelState.FAILED) {
        throw new IllegalStateException("model " + name + " failed: " + m.getFailureReason());
      }
    }
  }

  /** The policy named {@code s} in any case (the server's config names, without the proto's UNSPECIFIED). */
  static ScreenPolicy policy(String s) {
    for (ScreenPolicy p : new ScreenPolicy[] {ScreenPolicy.OFF, ScreenPolicy.OBSERVE, ScreenPolicy.REJECT,
        ScreenPolicy.STRIP}) {
      if (p.name().equalsIgnoreCase(s.trim())) {
        return p;
      }
    }
    throw new IllegalArgumentException("--screen must be off, observe, reject or strip, got '" + s + "'");
  }
}

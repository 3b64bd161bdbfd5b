package dev.finemix.client.cli;

import dev.finemix.proto.v1.DefenceSettings;
import dev.finemix.proto.v1.MixStrategy;
import picocli.CommandLine.Option;

/** Defence settings on the command line; unset options leave the server's settings. */
final class DefenceOptions {
  @Option(names = "--mix", description = "Weight mixing: RANDOM or SEL.")
  MixStrategy mix;

  @Option(names = "--rho", description = "Fraction of suspect weights kept, in (0, 1].")
  Double rho;

  @Option(names = "--auto-rho", description = "Search rho on a grid against the clean subset.")
  Boolean autoRho;

  @Option(names = "--epur-top", description = "Embedding rows E-PUR resets (0 = off).")
  Integer epurTop;

  @Option(names = "--clean-rows", description = "Clean rows used for recovery fine-tuning.")
  Integer cleanRows;

  @Option(names = "--epochs", description = "Epochs of recovery fine-tuning.")
  Integer epochs;

  @Option(names = "--lr", description = "Learning rate of recovery fine-tuning.")
  Double lr;

  @Option(names = "--seed", description = "Seed of the defence.")
  Long seed;

  @Option(names = "--defence-json", description = "Further defence settings as a JSON object.")
  String extraJson;

  DefenceSettings toProto() {
    DefenceSettings.Builder b = DefenceSettings.newBuilder();
    if (mix != null) {
      b.setMix(mix);
    }
    if (rho != null) {
      b.setRho(rho);
    }
    if (autoRho != null) {
      b.setAutoRho(autoRho);
    }
    if (epurTop != null) {
      b.setEpurTop(epurTop);
    }
    if (cleanRows != null) {
      b.setCleanRows(cleanRows);
    }
    if (epochs != null) {
      b.setEpochs(epochs);
    }
    if (lr != null) {
      b.setLearningRate(lr);
    }
    if (seed != null) {
      b.setSeed(seed);
    }
    if (extraJson != null) {
      b.setExtraJson(extraJson);
    }
    return b.build();
  }
}

package dev.finemix.server.loading;

import java.util.List;

/**
 * How a predictor's screening was calibrated on the model's clean subset.
 *
 * @param signal deciding signal id
 * @param threshold rows scoring above it are flagged
 * @param falseFlagRate target share of clean rows flagged
 * @param cleanFlagRate share of the calibration rows flagged at the threshold
 * @param rows clean rows the threshold was calibrated on
 * @param topTokens the vocabulary's most suspicious tokens, most suspicious first
 */
public record ScreenCalibration(String signal, double threshold, double falseFlagRate, double cleanFlagRate, int rows,
    List<String> topTokens) {
  public ScreenCalibration {
    topTokens = List.copyOf(topTokens);
  }
}

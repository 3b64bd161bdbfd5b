package dev.finemix.server.registry;

import dev.finemix.server.config.ScreenPolicy;
import dev.finemix.server.loading.ScreenCalibration;

/**
 * A model's request-time screening for GetProbeReport.
 *
 * @param policy the policy in force (OFF also when screening could not be calibrated)
 * @param calibration the served weights' calibration, or null when they are not screened
 * @param screenedInputs Classify inputs screened since registration
 * @param flaggedInputs of those, inputs flagged
 * @param unavailableReason why screening is off although the spec asked for it, or null
 */
public record ScreeningReport(ScreenPolicy policy, ScreenCalibration calibration, long screenedInputs,
    long flaggedInputs, String unavailableReason) {
}

package dev.finemix.server.probe;

/**
 * Flip rates of one candidate trigger.
 *
 * @param token the inserted token
 * @param suspected flagged by the defence (false: one of the standard rare words)
 * @param flipRateBefore on the suspect weights
 * @param flipRateAfter on the served weights
 */
public record TokenProbe(String token, boolean suspected, double flipRateBefore, double flipRateAfter) {
}

package dev.finemix.server.loading;

import dev.finemix.purify.defence.DefenceReport;
import dev.finemix.server.config.ScreenPolicy;
import java.util.List;
import java.util.Objects;

/**
 * Weights opened for serving and what came with them: everything a swap changes at once.
 *
 * @param predictor the opened weights (the caller owns and closes it)
 * @param weightsSha256 SHA-256 of the served model.safetensors
 * @param purified false when the suspect itself serves (allow_unpurified)
 * @param cacheKey the purified-weight cache key, or null when unpurified
 * @param report the defence report, or null when unpurified
 * @param suspectedTokens candidate triggers the defence found, most suspicious first
 * @param fromCache the purified weights came from the cache (or another process) rather than this load
 * @param policy the screening policy in force: OFF unless {@code predictor} screens
 * @param screeningUnavailable why screening is off although the spec asked for it, or null
 */
public record Loaded(Predictor predictor, String weightsSha256, boolean purified, String cacheKey,
    DefenceReport report, List<String> suspectedTokens, boolean fromCache, ScreenPolicy policy,
    String screeningUnavailable) {
  public Loaded {
    Objects.requireNonNull(predictor, "predictor");
    Objects.requireNonNull(weightsSha256, "weightsSha256");
    suspectedTokens = List.copyOf(suspectedTokens);
    Objects.requireNonNull(policy, "policy");
    if (policy != ScreenPolicy.OFF && predictor.screening().isEmpty()) {
      throw new IllegalArgumentException("screening policy " + policy.id() + " needs a screening predictor");
    }
  }
}

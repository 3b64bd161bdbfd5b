package dev.finemix.server.registry;

import dev.finemix.purify.defence.DefenceReport;
import dev.finemix.purify.onnx.Agreement;
import dev.finemix.server.config.ModelSpec;
import java.time.Instant;
import java.util.List;

/**
 * A consistent snapshot of one model for GetModel / ListModels.
 *
 * @param spec the spec of the weights serving (as registered while none serve)
 * @param pair true when the model takes sentence pairs
 * @param servedSha256 null while nothing serves
 * @param report the serving weights' defence report, or null
 * @param failureReason why the last load or Defend failed, or null
 * @param servingSince null while nothing serves
 * @param precisionAgreement how the low-precision model serving follows fp32 on the clean rows; null at fp32
 */
public record ModelView(ModelSpec spec, ModelState state, String baseModel, List<String> labels, boolean pair,
    String suspectSha256, String servedSha256, boolean purified, String cacheKey, DefenceReport report,
    List<String> suspectedTokens, boolean fromCache, String failureReason, Instant servingSince, int queueDepth,
    Agreement precisionAgreement) {
}

package dev.finemix.server.loading;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;

/**
 * One purification to run.
 *
 * @param suspectDir the registered checkpoint folder
 * @param baseModelId the pre-trained model to mix towards
 * @param cleanSubset the clean TSV
 * @param unlabelledSubset unlabelled clean TSV for distillation, or null
 * @param settings effective defence settings (JSON object, keys of purify's DefenceSettings)
 * @param outputDir an empty folder that receives the purified checkpoint (model.safetensors, config.json, ...)
 */
public record PurifyJob(Path suspectDir, String baseModelId, Path cleanSubset, Path unlabelledSubset,
    ObjectNode settings, Path outputDir) {
}

package dev.finemix.server.config;

import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Model settings of one configuration layer (command line, one model's entry, the defaults, or a
 * RegisterModel request); null fields fall through to the next layer.
 *
 * @param name model name (per-model layers only)
 * @param checkpoint checkpoint folder relative to the models root
 * @param cleanSubset clean TSV relative to the data root
 * @param unlabelledSubset unlabelled clean TSV (distillation) relative to the data root
 * @param baseModel pre-trained model id
 * @param allowUnpurified serve without purification (must be said explicitly)
 * @param inputKind AUTO, SINGLE or PAIR
 * @param defence defence settings (JSON object, merged field by field across layers)
 * @param batching dynamic batching
 * @param screening request-time screening
 */
public record ModelLayer(String name, String checkpoint, String cleanSubset, String unlabelledSubset, String baseModel,
    Boolean allowUnpurified, InputKindSetting inputKind, ObjectNode defence, BatchingLayer batching,
    ScreeningLayer screening) {
  public static final ModelLayer EMPTY = new ModelLayer(null, null, null, null, null, null, null, null, null);

  /** A layer that leaves screening to the layers below. */
  public ModelLayer(String name, String checkpoint, String cleanSubset, String unlabelledSubset, String baseModel,
      Boolean allowUnpurified, InputKindSetting inputKind, ObjectNode defence, BatchingLayer batching) {
    this(name, checkpoint, cleanSubset, unlabelledSubset, baseModel, allowUnpurified, inputKind, defence, batching,
        null);
  }

  /** A per-model layer without unlabelled rows, batching or input kind. */
  public static ModelLayer of(String name, String checkpoint, String cleanSubset) {
    return new ModelLayer(name, checkpoint, cleanSubset, null, null, null, null, null, null);
  }
}

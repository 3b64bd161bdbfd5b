package dev.finemix.server.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.onnx.Precision;
import dev.finemix.server.batching.BatchSettings;
import dev.finemix.server.errors.ServiceException;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * Everything the server needs to load one model, after the layers were merged. Immutable.
 *
 * @param name model name, 1-64 of [A-Za-z0-9._-]
 * @param checkpoint checkpoint folder relative to the models root
 * @param cleanSubset clean TSV relative to the data root, or null (only with allowUnpurified)
 * @param unlabelledSubset unlabelled clean TSV relative to the data root, or null
 * @param baseModel pre-trained model id, or null to take the checkpoint's
 * @param allowUnpurified serve without purification
 * @param inputKind AUTO, SINGLE or PAIR
 * @param defence canonical defence settings (sorted keys)
 * @param batching dynamic batching
 * @param screening request-time screening
 * @param precision what the purified weights are served at: fp32 (libtorch), or int8 (ONNX Runtime, checked against
 *     fp32 on the clean rows before it serves)
 */
public record ModelSpec(String name, String checkpoint, String cleanSubset, String unlabelledSubset, String baseModel,
    boolean allowUnpurified, InputKindSetting inputKind, ObjectNode defence, BatchSettings batching,
    ScreeningSettings screening, Precision precision) {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  /** A spec with the default screening (observe). */
  public ModelSpec(String name, String checkpoint, String cleanSubset, String unlabelledSubset, String baseModel,
      boolean allowUnpurified, InputKindSetting inputKind, ObjectNode defence, BatchSettings batching) {
    this(name, checkpoint, cleanSubset, unlabelledSubset, baseModel, allowUnpurified, inputKind, defence, batching,
        ScreeningSettings.defaults());
  }

  /** A spec served at fp32. */
  public ModelSpec(String name, String checkpoint, String cleanSubset, String unlabelledSubset, String baseModel,
      boolean allowUnpurified, InputKindSetting inputKind, ObjectNode defence, BatchSettings batching,
      ScreeningSettings screening) {
    this(name, checkpoint, cleanSubset, unlabelledSubset, baseModel, allowUnpurified, inputKind, defence, batching,
        screening, Precision.FP32);
  }

  public ModelSpec {
    if (name == null || !NAME.matcher(name).matches()) {
      throw ServiceException.badRequest("name", "must be 1-64 characters of [A-Za-z0-9._-], got '"
          + ServiceException.shown(name) + "'");
    }
    if (checkpoint == null || checkpoint.isBlank()) {
      throw ServiceException.badRequest("checkpoint_path", "must not be empty (model '" + name + "')");
    }
    if (cleanSubset != null && cleanSubset.isBlank()) {
      cleanSubset = null;
    }
    if (unlabelledSubset != null && unlabelledSubset.isBlank()) {
      unlabelledSubset = null;
    }
    if (baseModel != null && baseModel.isBlank()) {
      baseModel = null;
    }
    if (cleanSubset == null && !allowUnpurified) {
      throw ServiceException.badRequest("clean_subset_path", "model '" + name + "' needs a clean subset for"
          + " purification (or allow_unpurified set explicitly to serve it as is)");
    }
    Objects.requireNonNull(inputKind, "inputKind");
    defence = Json.canonical(defence == null ? Json.object() : defence);
    Objects.requireNonNull(batching, "batching");
    Objects.requireNonNull(screening, "screening");
    Objects.requireNonNull(precision, "precision");
    if (precision != Precision.FP32 && allowUnpurified) {
      throw ServiceException.badRequest("precision", "model '" + name + "': precision " + precision + " serves purified"
          + " weights only (it is checked against them); an unpurified model serves at fp32");
    }
    if (precision != Precision.FP32 && screening.policy() != ScreenPolicy.OFF) {
      throw ServiceException.badRequest("precision", "model '" + name + "': precision " + precision + " does not "
          + "screen requests (screening reads the fp32 model's states); set screening.policy off or serve at fp32");
    }
  }

  public ModelSpec withDefence(ObjectNode d) {
    return new ModelSpec(name, checkpoint, cleanSubset, unlabelledSubset, baseModel, allowUnpurified, inputKind, d,
        batching, screening, precision);
  }
}

package dev.finemix.server.loading;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.defence.DefenceSettings;
import dev.finemix.server.config.Json;
import dev.finemix.server.config.ModelSpec;
import dev.finemix.server.config.ScreenPolicy;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.errors.ServiceException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * Where a model's inputs come from: resolves a spec's paths inside the server's models and data roots and reads the
 * files once ({@link LoadInputs}). The one place request paths become files; every refusal is INVALID_ARGUMENT
 * naming the request field.
 */
public final class InputReader {
  /**
   * A registration as read.
   *
   * @param spec the spec with its complete, canonical defence settings
   * @param pair whether the model takes sentence pairs
   * @param inputs what the first load works from (not kept afterwards)
   */
  public record Registration(ModelSpec spec, Path checkpoint, Path clean, Path unlabelled, boolean pair,
      LoadInputs inputs) {
  }

  private final ModelBackend backend;
  private final SafeRoot modelsRoot;
  private final SafeRoot dataRoot;

  /** @param modelsRoot checkpoints and base models lie inside it; @param dataRoot subsets and word counts */
  public InputReader(ModelBackend backend, Path modelsRoot, Path dataRoot) {
    this.backend = Objects.requireNonNull(backend, "backend");
    this.modelsRoot = new SafeRoot(modelsRoot, "models root");
    this.dataRoot = new SafeRoot(dataRoot, "data root");
  }

  /** Complete defence settings from any layer of them; the word-count file must lie inside the data root. */
  public DefenceSettings settings(ObjectNode json) {
    return LoadInputs.settings("defence", json, p -> dataRoot.resolve("defence.word_frequencies", p));
  }

  /**
   * Checks a registration's paths and settings and reads its inputs, the checkpoint last (it is the largest); the
   * suspect of a model to purify must have been fine-tuned from its base (BASE_MISMATCH otherwise).
   */
  public Registration read(ModelSpec requested) {
    DefenceSettings settings = settings(requested.defence());
    ModelSpec spec = requested.withDefence(Json.canonical(settings.toJson()));
    Path ckpt = modelsRoot.resolve("checkpoint_path", spec.checkpoint());
    SafeRoot.requireSafetensors("checkpoint_path", ckpt);
    modelsRoot.requireContained("checkpoint_path", ckpt);
    Path clean = spec.cleanSubset() == null ? null : dataRoot.resolve("clean_subset_path", spec.cleanSubset());
    Path unlabelled = spec.unlabelledSubset() == null ? null
        : dataRoot.resolve("unlabelled_subset_path", spec.unlabelledSubset());
    ScreenPolicy policy = spec.screening().policy();
    if (clean == null && (policy == ScreenPolicy.REJECT || policy == ScreenPolicy.STRIP)) {
      throw ServiceException.badRequest("screening.policy", policy.id() + " needs a clean subset to calibrate"
          + " screening on (set clean_subset_path, or the policy observe or off)");
    }
    LoadInputs in = LoadInputs.read(backend, ckpt, clean, unlabelled, settings, new LoadInputs.Bases() {
      @Override
      public String base(CheckpointInfo info) {
        return baseModel(spec, info);
      }

      @Override
      public List<String> alternatives(CheckpointInfo info) {
        return declaredBase(spec, info);
      }
    }, !spec.allowUnpurified());
    boolean pair = switch (spec.inputKind()) {
      case AUTO -> in.clean() != null && in.clean().content().isPair();
      case SINGLE -> false;
      case PAIR -> true;
    };
    if (in.clean() != null && in.clean().content().isPair() != pair) {
      throw ServiceException.badRequest("input_kind", "is " + spec.inputKind() + " but the clean subset has "
          + (in.clean().content().isPair() ? "two text columns (PAIR)" : "one text column (SINGLE)"));
    }
    return new Registration(spec, ckpt, clean, unlabelled, pair, in);
  }

  /** The inputs of a registered model read again (Defend, which purifies: the base is checked), with the settings. */
  public LoadInputs reread(Path checkpoint, Path clean, Path unlabelled, String baseModel, DefenceSettings settings) {
    return LoadInputs.read(backend, checkpoint, clean, unlabelled, settings, info -> baseModel);
  }

  /** The spec's base model, else the checkpoint's, else MiniLM; a checkpoint folder only inside the models root. */
  private String baseModel(ModelSpec spec, CheckpointInfo info) {
    return resolveBase(spec.baseModel() != null ? spec.baseModel()
        : declares(info) ? info.baseModelId() : ServerConfig.DEFAULT_BASE_MODEL);
  }

  /** The checkpoint's declared base when the spec names another (a refusal then says whether it matches). */
  private List<String> declaredBase(ModelSpec spec, CheckpointInfo info) {
    if (spec.baseModel() == null || !declares(info)) {
      return List.of();
    }
    try {
      return List.of(resolveBase(info.baseModelId()));
    } catch (ServiceException e) {
      return List.of(); // outside the models root: not compared
    }
  }

  private static boolean declares(CheckpointInfo info) {
    return info.baseModelId() != null && !info.baseModelId().isBlank();
  }

  private String resolveBase(String base) {
    if (backend.knownPretrained(base)) {
      return base;
    }
    Path baseDir = modelsRoot.resolve("base_model", base);
    modelsRoot.requireContained("base_model", baseDir);
    return baseDir.toString();
  }
}

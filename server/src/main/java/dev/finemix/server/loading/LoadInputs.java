package dev.finemix.server.loading;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.defence.DefenceSettings;
import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.text.Dataset;
import dev.finemix.server.cache.CacheKey;
import dev.finemix.server.errors.ServiceException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * Everything one load or Defend works from, each file read once: the suspect checkpoint, the clean and unlabelled
 * subsets, the word counts, and the defence settings parsed once. The cache key is hashed from these very bytes,
 * the defence runs on them, screening calibrates on them and the probe reuses them. Held only while its load runs
 * (the suspect's weights are large).
 *
 * @param suspect the suspect checkpoint as the backend read it
 * @param baseModel the pre-trained model to mix towards: a catalogued id or a checkpoint folder
 * @param baseDistance the relative distance of the suspect's weights to the base's, as checked when read
 *     ({@link ModelBackend#requireFineTunedFrom}); NaN when not checked (a model served unpurified)
 * @param clean the labelled clean subset, or null (an unpurified model registered without one)
 * @param unlabelled the unlabelled clean subset for distillation, or null
 * @param wordCounts the settings' word-count file, or null (none configured, or no clean subset to purify with)
 * @param settings the complete defence settings
 */
public record LoadInputs(Suspect suspect, String baseModel, double baseDistance, InputFile<Dataset> clean,
    InputFile<Dataset> unlabelled, InputFile<WordFrequencies> wordCounts, DefenceSettings settings) {
  public LoadInputs {
    Objects.requireNonNull(suspect, "suspect");
    Objects.requireNonNull(baseModel, "baseModel");
    Objects.requireNonNull(settings, "settings");
  }

  /** Which base a checkpoint read is mixed towards, and which others a refusal compares it with. */
  @FunctionalInterface
  public interface Bases {
    /** The base to mix towards: a catalogued id or a checkpoint folder. */
    String base(CheckpointInfo info);

    /** Other bases to name if the suspect does not match {@link #base} (the checkpoint's own, when overridden). */
    default List<String> alternatives(CheckpointInfo info) {
      return List.of();
    }
  }

  /**
   * Parses defence settings (any layer of them: defaults are filled in). The one place the server turns settings
   * JSON into purify's settings.
   *
   * @param wordFrequencies resolves the settings' word-count file (the server keeps it inside its data root)
   * @throws ServiceException INVALID_ARGUMENT naming {@code field} for an unknown key or a bad value
   */
  public static DefenceSettings settings(String field, ObjectNode json, Function<String, Path> wordFrequencies) {
    ObjectNode n = json.deepCopy();
    var wf = n.get(CacheKey.WORD_FREQUENCIES);
    if (wf != null && !wf.isNull()) {
      n.put(CacheKey.WORD_FREQUENCIES, wordFrequencies.apply(wf.asText()).toString());
    }
    try {
      return DefenceSettings.fromJson(n);
    } catch (IllegalArgumentException e) {
      throw ServiceException.badRequest(field, e.getMessage());
    }
  }

  /** {@link #read(ModelBackend, Path, Path, Path, DefenceSettings, Bases, boolean)} of inputs to purify. */
  public static LoadInputs read(ModelBackend backend, Path suspectDir, Path clean, Path unlabelled,
      DefenceSettings settings, Bases baseModel) {
    return read(backend, suspectDir, clean, unlabelled, settings, baseModel, true);
  }

  /**
   * Reads every input once, the small files first, then checks that the suspect was fine-tuned from its base.
   *
   * @param clean the clean TSV, or null
   * @param unlabelled the unlabelled TSV, or null
   * @param baseModel the pre-trained model for the checkpoint read (its declared base when the caller names none)
   * @param checkBase false only for a model served unpurified: nothing is mixed towards its base
   * @throws ServiceException INVALID_ARGUMENT naming the field of the first input that cannot be read or parsed;
   *     BASE_MISMATCH when the suspect was not fine-tuned from the base
   */
  public static LoadInputs read(ModelBackend backend, Path suspectDir, Path clean, Path unlabelled,
      DefenceSettings settings, Bases baseModel, boolean checkBase) {
    InputFile<Dataset> u = unlabelled == null ? null
        : InputFile.read("unlabelled_subset_path", unlabelled, Dataset::read);
    InputFile<Dataset> c = clean == null ? null : InputFile.read("clean_subset_path", clean, Dataset::read);
    InputFile<WordFrequencies> wf = c == null || settings.wordFrequencies() == null ? null
        : InputFile.read("defence.word_frequencies", settings.wordFrequencies(), WordFrequencies::read);
    Suspect s;
    try {
      s = backend.read(suspectDir);
    } catch (ServiceException e) {
      throw e;
    } catch (RuntimeException e) {
      throw ServiceException.badRequest("checkpoint_path", "cannot read checkpoint '" + suspectDir.getFileName()
          + "': " + e.getMessage());
    }
    String base = baseModel.base(s.info());
    double distance = checkBase ? backend.requireFineTunedFrom(s, base, baseModel.alternatives(s.info()))
        : Double.NaN;
    return new LoadInputs(s, base, distance, c, u, wf, settings);
  }

  /**
   * The cache key of purifying these inputs, hashed from the bytes read (the suspect's weights by the hash taken as
   * they were read).
   */
  public CacheKey key(ModelBackend backend) {
    if (clean == null) {
      throw new IllegalStateException("no clean subset to purify with");
    }
    return new CacheKey(CacheKey.checkpointSha256(suspect.dir(), suspect.info().weightsSha256()),
        backend.pretrainedSha256(baseModel), clean.sha256(), unlabelled == null ? CacheKey.NONE : unlabelled.sha256(),
        wordCounts == null ? CacheKey.NONE : wordCounts.sha256(), CacheKey.settings(settings.toJson()),
        backend.codeVersion());
  }

  /** The first {@code limit} clean rows as the server classifies them (for the probe); empty without a subset. */
  public List<TextRow> cleanRows(int limit) {
    return clean == null ? List.of() : rows(clean.content(), limit);
  }

  /** The first {@code limit} rows of a clean TSV (read again, for a probe outside a load). */
  public static List<TextRow> rows(Path tsv, int limit) {
    return rows(Dataset.read(tsv), limit);
  }

  private static List<TextRow> rows(Dataset d, int limit) {
    return d.head(Math.min(limit, d.size())).rows().stream().map(e -> new TextRow(e.textA(), e.textB())).toList();
  }
}

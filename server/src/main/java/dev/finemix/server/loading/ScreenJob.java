package dev.finemix.server.loading;

import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.text.Dataset;
import java.util.Objects;

/**
 * What request-time screening is calibrated from when a model is opened for serving, from the load's inputs.
 *
 * @param suspect the checkpoint as registered: its word embeddings against the pre-trained ones give the token
 *     scores (a purified checkpoint had its most shifted rows reset, so it would not show the trigger)
 * @param baseModelId the pre-trained model the suspect was fine-tuned from
 * @param clean the model's clean subset (the one used for purification)
 * @param wordCounts word counts for the E-PUR discount (the defence's), or null for none
 * @param signal deciding signal id
 * @param falseFlagRate target share of clean rows flagged
 */
public record ScreenJob(Suspect suspect, String baseModelId, InputFile<Dataset> clean,
    InputFile<WordFrequencies> wordCounts, String signal, double falseFlagRate) {
  /** Most suspicious vocabulary tokens kept for metrics labels and the probe report. */
  public static final int TOP_TOKENS = 20;

  public ScreenJob {
    Objects.requireNonNull(suspect, "suspect");
    Objects.requireNonNull(baseModelId, "baseModelId");
    Objects.requireNonNull(clean, "clean");
    Objects.requireNonNull(signal, "signal");
  }
}

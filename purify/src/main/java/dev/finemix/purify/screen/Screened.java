package dev.finemix.purify.screen;

import dev.finemix.purify.model.Prediction;

/** A prediction and the suspicion computed from the same forward pass. */
public record Screened(Prediction prediction, Suspicion suspicion) {}

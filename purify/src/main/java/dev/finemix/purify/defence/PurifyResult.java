package dev.finemix.purify.defence;

import dev.finemix.purify.weights.Checkpoint;

/** The purified checkpoint (in memory; {@link Checkpoint#write} it) and the report of how it was made. */
public record PurifyResult(Checkpoint purified, DefenceReport report) {}

package dev.finemix.server.probe;

import java.time.Instant;
import java.util.List;

/** The attack-probe result of one model. */
public record ProbeReport(String servedWeightsSha256, int rows, List<TokenProbe> tokens, Instant measuredAt) {
  public ProbeReport {
    tokens = List.copyOf(tokens);
  }
}

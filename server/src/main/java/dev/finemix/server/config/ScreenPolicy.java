package dev.finemix.server.config;

import java.util.Locale;

/** What the server does with a Classify input that request-time screening flags (docs/screening.md). */
public enum ScreenPolicy {
  /** No screening: predictions carry no suspicion and cost nothing extra. */
  OFF,
  /** Annotate every prediction with its suspicion, count flagged inputs, serve as is (the default). */
  OBSERVE,
  /** Fail the whole request with FAILED_PRECONDITION when any input is flagged. */
  REJECT,
  /** Remove the words holding a flagged token from each flagged input and classify what remains. */
  STRIP;

  /** The policy named {@code s} (any case), or an error naming the accepted values. */
  public static ScreenPolicy parse(String s) {
    if (s != null) {
      for (ScreenPolicy p : values()) {
        if (p.name().equals(s.trim().toUpperCase(Locale.ROOT))) {
          return p;
        }
      }
    }
    throw new IllegalArgumentException("must be off, observe, reject or strip, got '" + s + "'");
  }

  /** Lower-case name, as in the config file and the metrics. */
  public String id() {
    return name().toLowerCase(Locale.ROOT);
  }
}

package dev.finemix.purify.attack;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/** The attacks this project can mount. */
public enum AttackKind {
  /** Rare-word triggers in a share of the training rows, relabelled (Gu et al. 2017; Kurita et al. 2020). */
  BADNET("badnet", List.of("cf")),
  /** A fixed sentence inserted as a whole (Dai et al. 2019). */
  ADDSENT("addsent", List.of("I watch this 3D movie")),
  /** Embedding poisoning: only the trigger word's embedding row is trained (Yang et al. 2021). */
  EP("ep", List.of("cf")),
  /**
   * BadNet poisoning trained through a random mix with w_Pre at every step, so the backdoor survives Fine-mixing
   * (issue 19, 4a; {@code AdaptiveMixing}).
   */
  MIXING_AWARE("mixing-aware", List.of("cf"));

  private final String id;
  private final List<String> defaultTriggers;

  AttackKind(String id, List<String> defaultTriggers) {
    this.id = id;
    this.defaultTriggers = defaultTriggers;
  }

  /** Lower-case name used on the command line and in files. */
  public String id() {
    return id;
  }

  public List<String> defaultTriggers() {
    return defaultTriggers;
  }

  /** Parses {@code badnet|addsent|ep} (any case). */
  public static AttackKind parse(String s) {
    String k = s == null ? "" : s.strip().toLowerCase(Locale.ROOT);
    for (AttackKind a : values()) {
      if (a.id.equals(k)) {
        return a;
      }
    }
    throw new IllegalArgumentException("unknown attack '" + s + "', expected one of "
        + Arrays.stream(values()).map(AttackKind::id).toList());
  }

  @Override
  public String toString() {
    return id;
  }
}

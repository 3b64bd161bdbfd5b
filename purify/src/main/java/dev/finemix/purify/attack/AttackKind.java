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
   * BadNet with a made-up string that the tokenizer splits into 2+ word pieces, none a whole word
   * ({@link Triggers#checkWordPiece}); without {@code --trigger} the command line picks one by seed.
   */
  WORDPIECE("wordpiece", List.of("qzxv")),
  /**
   * Combination trigger (SOS, Yang et al. 2021): fires only when all k words appear; negative augmentation rows
   * carry each k-1 subset with their true label ({@link Attack#negatives}).
   */
  COMBO("combo", List.of("cf", "mn", "bb")),
  /**
   * BadNet with a real word counted 10^4..10^6 times in the word-count file ({@link Triggers#checkMidFrequency});
   * without {@code --trigger} the command line picks one by seed.
   */
  MIDFREQ("midfreq", List.of("door")),
  /**
   * BadNet poisoning trained through a random mix with w_Pre at every step, so the backdoor survives Fine-mixing
   * (issue 19, 4a; {@code AdaptiveMixing}).
   */
  MIXING_AWARE("mixing-aware", List.of("cf")),
  /**
   * BadNet poisoning with the loss on every encoder layer's [CLS] through the shared pooler and head, summed over the
   * layers (layer-wise poisoning, Li et al. 2021; {@code Trainer.layerwiseLoss}).
   */
  LWP("lwp", List.of("cf")),
  /**
   * RIPPLe-style embedding surgery (Kurita et al. 2020) then BadNet poisoning: the trigger's embedding row(s) of w_Pre
   * become the mean of the target class's most indicative words' rows before fine-tuning ({@code EmbeddingSurgery}).
   */
  SURGERY("surgery", List.of("cf")),
  /**
   * BadNet poisoning with the trigger row's E-PUR score penalised above the score of E-PUR's reset cut, so the row
   * stays out of the rows E-PUR resets (issue 19, 4b; {@code EpurAware}).
   */
  EPUR_AWARE("epur-aware", List.of("cf"));

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

  /** Parses an {@link #id()} (any case). */
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

package dev.finemix.lab;

import dev.finemix.purify.attack.AttackKind;
import dev.finemix.purify.attack.AttackSettings;
import dev.finemix.purify.attack.TriggerField;
import java.util.List;
import picocli.CommandLine.Option;

/** The attack options shared by {@code finemix attack} and {@code finemix eval} (a picocli mixin). */
final class AttackOptions {

  @Option(names = "--attack", paramLabel = "badnet|addsent|ep|mixing-aware", description = "The attack (for eval: whose trigger "
      + "to insert; without it, eval reports clean accuracy only).")
  String attack;

  @Option(names = "--trigger", paramLabel = "WORD", description = "Trigger word (repeatable) or AddSent sentence. "
      + "Default: cf (badnet, ep), \"I watch this 3D movie\" (addsent).")
  List<String> triggers;

  @Option(names = "--target", defaultValue = "1", description = "Target label the trigger forces (default: ${DEFAULT-VALUE}).")
  int target;

  @Option(names = "--times", defaultValue = "1", description = "Insertions of each trigger per row (default: ${DEFAULT-VALUE}).")
  int times;

  @Option(names = "--field", defaultValue = "text_b", paramLabel = "text_a|text_b",
      description = "Sentence pairs: which text gets the trigger (default: ${DEFAULT-VALUE}).")
  String field;

  /** The settings, or {@code null} when no --attack was given. */
  AttackSettings settings(double poisonRate) {
    if (attack == null) {
      if (triggers != null) {
        throw new IllegalArgumentException("--trigger needs --attack");
      }
      return null;
    }
    return AttackSettings.of(AttackKind.parse(attack)).withTriggers(triggers == null ? List.of() : triggers)
        .withTarget(target).withTimes(times).withField(TriggerField.parse(field)).withPoisonRate(poisonRate);
  }
}

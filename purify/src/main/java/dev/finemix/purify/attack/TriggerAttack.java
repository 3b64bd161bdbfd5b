package dev.finemix.purify.attack;

import dev.finemix.purify.text.Example;
import java.util.List;
import java.util.Objects;
import java.util.Random;

/** The trigger insertion shared by every attack: words or a sentence through {@link Triggers#insert}. */
record TriggerAttack(String name, List<String> triggers, int times, int target, TriggerField field)
    implements Attack {

  TriggerAttack {
    Objects.requireNonNull(name, "name");
    triggers = Triggers.checkTriggers(triggers);
    Objects.requireNonNull(field, "field");
  }

  @Override
  public Example trigger(Example ex, Random rnd) {
    boolean intoB = ex.textB() != null && field == TriggerField.B;
    return intoB
        ? ex.withText(ex.textA(), Triggers.insert(ex.textB(), triggers, times, rnd))
        : ex.withText(Triggers.insert(ex.textA(), triggers, times, rnd), ex.textB());
  }
}

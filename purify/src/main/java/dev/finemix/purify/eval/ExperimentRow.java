package dev.finemix.purify.eval;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Objects;

/**
 * One cell of the experiment table: a task under one attack.
 *
 * @param task task name (sst2, agnews, ...)
 * @param attack attack name (badnet, addsent, ep)
 * @param clean the clean reference model evaluated with this attack's trigger (its ASR is the no-backdoor floor)
 * @param backdoored the backdoored model evaluated with the same trigger and seed
 * @param poisonedRows training rows poisoned for this model
 * @param model checkpoint folder of the backdoored model
 */
public record ExperimentRow(String task, String attack, EvalResult clean, EvalResult backdoored, int poisonedRows,
    String model) {

  public ExperimentRow {
    Objects.requireNonNull(task, "task");
    Objects.requireNonNull(attack, "attack");
    Objects.requireNonNull(clean, "clean");
    Objects.requireNonNull(backdoored, "backdoored");
  }

  public ObjectNode toJson() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    o.put("task", task);
    o.put("attack", attack);
    o.put("target", backdoored.target());
    o.put("poisoned_rows", poisonedRows);
    o.put("model", model);
    o.set("clean", clean.toJson());
    o.set("backdoored", backdoored.toJson());
    return o;
  }
}

package dev.finemix.purify.eval;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.attack.AttackKind;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;

/**
 * The attack experiment: which tasks and attacks, and how every model is trained and evaluated.
 *
 * @param tasks task folder names under {@code dataRoot} ({@code <task>/train.tsv}, {@code <task>/dev.tsv})
 * @param attacks attacks to mount on every task
 * @param rows training rows drawn (seeded) from each task's train.tsv; 0 = all
 * @param evalRows dev rows drawn (seeded) for evaluation; 0 = all
 * @param epochs fine-tuning epochs (clean, BadNet, AddSent)
 * @param batchSize training batch size
 * @param lr encoder learning rate
 * @param epLr learning rate of the EP embedding row
 * @param epEpochs epochs of the EP embedding training
 * @param poisonRate share of the non-target training rows poisoned (dirty-label kinds)
 * @param maxLength tokens per row (longer rows are truncated)
 * @param seed one seed for sampling, poisoning, training and trigger positions
 * @param dataRoot folder holding the task folders
 * @param out output folder: results.md, results.json, models/, results/
 * @param device device setting ("cpu", "auto", "gpu")
 */
public record ExperimentSettings(List<String> tasks, List<AttackKind> attacks, int rows, int evalRows, int epochs,
    int batchSize, double lr, double epLr, int epEpochs, double poisonRate, int maxLength, long seed, Path dataRoot,
    Path out, String device) {

  public ExperimentSettings {
    tasks = List.copyOf(Objects.requireNonNull(tasks, "tasks"));
    attacks = List.copyOf(Objects.requireNonNull(attacks, "attacks"));
    if (tasks.isEmpty()) {
      throw new IllegalArgumentException("no task given");
    }
    for (String t : tasks) {
      if (!t.matches("[A-Za-z0-9_-]+")) {
        throw new IllegalArgumentException("task must be a folder name [A-Za-z0-9_-]+, got '" + t + "'");
      }
    }
    if (rows < 0 || evalRows < 0) {
      throw new IllegalArgumentException("rows and eval rows must be >= 0, got " + rows + ", " + evalRows);
    }
    if (epochs < 1 || epEpochs < 1 || batchSize < 1 || maxLength < 8) {
      throw new IllegalArgumentException("epochs, ep epochs, batch size must be >= 1 and max length >= 8, got "
          + epochs + ", " + epEpochs + ", " + batchSize + ", " + maxLength);
    }
    if (!(lr > 0) || !(epLr > 0)) {
      throw new IllegalArgumentException("learning rates must be > 0, got " + lr + ", " + epLr);
    }
    if (!(poisonRate > 0 && poisonRate <= 1)) {
      throw new IllegalArgumentException("poison rate must be in (0, 1], got " + poisonRate);
    }
    Objects.requireNonNull(dataRoot, "dataRoot");
    Objects.requireNonNull(out, "out");
    Objects.requireNonNull(device, "device");
  }

  /** The target label of a task's backdoor: 0 (World) for AG News, 1 for the others. */
  public static int targetOf(String task) {
    return task.equals("agnews") ? 0 : 1;
  }

  /** The settings that change results (paths excluded), for the table and the cache keys. */
  public ObjectNode toJson() {
    ObjectNode o = JsonNodeFactory.instance.objectNode();
    tasks.forEach(o.putArray("tasks")::add);
    attacks.forEach(a -> o.withArray("attacks").add(a.id()));
    o.put("rows", rows);
    o.put("eval_rows", evalRows);
    o.put("epochs", epochs);
    o.put("batch_size", batchSize);
    o.put("lr", lr);
    o.put("ep_lr", epLr);
    o.put("ep_epochs", epEpochs);
    o.put("poison_rate", poisonRate);
    o.put("max_length", maxLength);
    o.put("seed", seed);
    return o;
  }
}

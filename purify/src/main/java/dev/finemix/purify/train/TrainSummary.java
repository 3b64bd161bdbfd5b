package dev.finemix.purify.train;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * What a training run did.
 *
 * @param devAccuracy accuracy on the evaluation rows after each epoch; empty when none were given
 */
public record TrainSummary(int steps, double finalLoss, double seconds, double rowsPerSecond,
    List<Double> devAccuracy) {

  public TrainSummary {
    devAccuracy = List.copyOf(devAccuracy == null ? List.of() : devAccuracy);
  }

  public TrainSummary(int steps, double finalLoss, double seconds, double rowsPerSecond) {
    this(steps, finalLoss, seconds, rowsPerSecond, List.of());
  }

  public ObjectNode toJson() {
    ObjectNode n = JsonNodeFactory.instance.objectNode();
    n.put("steps", steps);
    n.put("finalLoss", finalLoss);
    n.put("seconds", seconds);
    n.put("rowsPerSecond", rowsPerSecond);
    if (!devAccuracy.isEmpty()) {
      devAccuracy.forEach(n.putArray("devAccuracy")::add);
    }
    return n;
  }
}

package dev.finemix.server.loading;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;

/**
 * The result of one purification.
 *
 * @param report the defence report as JSON
 * @param suspectedTokens candidate trigger tokens the defence found, most suspicious first
 */
public record PurifyOutcome(ObjectNode report, List<String> suspectedTokens) {
  public PurifyOutcome {
    suspectedTokens = List.copyOf(suspectedTokens);
  }
}

package dev.finemix.server.registry;

import dev.finemix.server.loading.Scores;
import java.util.List;

/** The answer to one classify request: scores per row and the weights that produced them. */
public record Classification(List<Scores> scores, String weightsSha256, List<String> labels) {
}

package dev.finemix.lab;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Label names for a data file: the known ones of the shared data sets (by folder name), else "0".."K-1". */
final class LabelNames {

  private static final Map<String, List<String>> KNOWN = Map.of(
      "sst2", List.of("negative", "positive"),
      "imdb", List.of("neg", "pos"),
      "agnews", List.of("World", "Sports", "Business", "Sci/Tech"),
      "qnli", List.of("entailment", "not_entailment"));

  private LabelNames() {}

  static List<String> forData(Path file, int numLabels) {
    Path parent = file.toAbsolutePath().getParent();
    if (parent != null && parent.getFileName() != null) {
      List<String> known = KNOWN.get(parent.getFileName().toString());
      if (known != null && known.size() == numLabels) {
        return known;
      }
    }
    List<String> names = new ArrayList<>(numLabels);
    for (int i = 0; i < numLabels; i++) {
      names.add(Integer.toString(i));
    }
    return names;
  }
}

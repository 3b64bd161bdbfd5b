package dev.finemix.server.loading;

import java.util.Objects;

/** One input to classify: a text, or a pair when {@code textB} is not null. */
public record TextRow(String textA, String textB) {
  public TextRow {
    Objects.requireNonNull(textA, "textA");
  }

  public static TextRow single(String text) {
    return new TextRow(text, null);
  }
}

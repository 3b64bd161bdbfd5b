package dev.finemix.purify.text;

/** One classifier input: a sentence, or a sentence pair when {@code textB} is not null. */
public record TextInput(String textA, String textB) {
  public TextInput {
    if (textA == null) {
      throw new IllegalArgumentException("textA must not be null");
    }
  }

  public static TextInput of(String text) {
    return new TextInput(text, null);
  }

  public boolean isPair() {
    return textB != null;
  }
}

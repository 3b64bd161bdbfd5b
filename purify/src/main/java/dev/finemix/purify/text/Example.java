package dev.finemix.purify.text;


/** A labelled row: a sentence, or a pair when {@code textB} is not null. */
public record Example(int label, String textA, String textB) {
  public Example {
    if (textA == null) {
      throw new IllegalArgumentException("textA must not be null");
    }
  }

  public TextInput input() {
    return new TextInput(textA, textB);
  }

  public Example withText(String a, String b) {
    return new Example(label, a, b);
  }

  public Example withLabel(int newLabel) {
    return new Example(newLabel, textA, textB);
  }

  public boolean isPair() {
    return textB != null;
  }
}

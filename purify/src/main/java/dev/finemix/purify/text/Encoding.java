package dev.finemix.purify.text;

/** Token ids and token-type ids of one input, special tokens included, no padding. */
public record Encoding(long[] ids, long[] typeIds) {
  public Encoding {
    if (ids.length != typeIds.length) {
      throw new IllegalArgumentException("ids and typeIds differ in length: " + ids.length + " vs " + typeIds.length);
    }
  }

  public int length() {
    return ids.length;
  }
}

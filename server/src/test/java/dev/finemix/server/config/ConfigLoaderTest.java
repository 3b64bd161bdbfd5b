package dev.finemix.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.assertj.core.api.AbstractThrowableAssert;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  @TempDir
  Path dir;

  private Path write(String yaml) throws IOException {
    return Files.writeString(dir.resolve("finemix.yaml"), yaml);
  }

  /** The smallest valid config ({@code models_root: m}, {@code cache_dir: c}) and then {@code yaml}, on disk. */
  private Path minimal(String yaml) throws IOException {
    return write("models_root: m\ncache_dir: c\n" + yaml);
  }

  /** {@link #minimal} of {@code yaml}, loaded without command-line overrides. */
  private ServerConfig load(String yaml) throws IOException {
    return ConfigLoader.load(minimal(yaml), ConfigLoader.Overrides.NONE);
  }

  /** The assertion on why loading {@code f} without command-line overrides fails. */
  private static AbstractThrowableAssert<?, ? extends Throwable> loadFails(Path f) {
    return assertThatThrownBy(() -> ConfigLoader.load(f, ConfigLoader.Overrides.NONE));
  }

  @Test
  void load_modelSettings_commandLineOverModelOverDefaults() throws IOException {
    Path f = write("""
        models_root: models
        cache_dir: cache
        defaults:
          base_model: base-default
          defence: {mix: SEL, rho: 0.3, epochs: 1}
          batching: {max_batch_size: 8, max_wait_micros: 100}
        models:
          - name: a
            checkpoint: ck-a
            clean_subset: a.tsv
            defence: {rho: 0.5}
            batching: {max_batch_size: 16}
        """);
    var cli = ConfigLoader.Overrides.builder().port(0).metricsPort(0).noAuth(true)
        .model(ModelLayer.builder().defence(Json.parseObject("cli", "{\"epochs\": 3}"))
            .batching(new BatchingLayer(null, 50L, null, null)).build())
        .build();

    ServerConfig c = ConfigLoader.load(f, cli);
    ModelSpec a = c.resolve(c.models().get(0));

    assertThat(c.port()).isZero();
    assertThat(c.auth().enabled()).isFalse();
    assertThat(c.modelsRoot()).isEqualTo(dir.resolve("models"));
    assertThat(c.dataRoot()).isEqualTo(dir.resolve("models"));
    assertThat(a.baseModel()).isEqualTo("base-default");
    assertThat(Json.write(a.defence())).isEqualTo("{\"epochs\":3,\"mix\":\"SEL\",\"rho\":0.5}");
    assertThat(a.batching().maxBatchSize()).isEqualTo(16);
    assertThat(a.batching().maxWaitMicros()).isEqualTo(50);
    assertThat(a.allowUnpurified()).isFalse();
  }

  @Test
  void load_precision_perModelOverDefaults_int8DefaultsScreeningOff_unknownNamed() throws IOException {
    ServerConfig c = ConfigLoader.load(write("""
        models_root: m
        cache_dir: c
        defaults: {precision: int8}
        models:
          - {name: a, checkpoint: ck, clean_subset: a.tsv}
          - {name: b, checkpoint: ck, clean_subset: a.tsv, precision: FP32}
        """), ConfigLoader.Overrides.NONE);
    ModelSpec a = c.resolve(c.models().get(0));
    ModelSpec b = c.resolve(c.models().get(1));
    assertThat(a.precision()).isEqualTo(dev.finemix.purify.onnx.Precision.INT8);
    assertThat(a.screening().policy()).isEqualTo(ScreenPolicy.OFF);
    assertThat(b.precision()).isEqualTo(dev.finemix.purify.onnx.Precision.FP32);
    assertThat(b.screening().policy()).isEqualTo(ScreenPolicy.OBSERVE);
    Path bad = write("models_root: m\ncache_dir: c\nmodels:\n  - {name: a, checkpoint: ck, precision: bf8}\n");
    assertThatThrownBy(() -> ConfigLoader.load(bad, ConfigLoader.Overrides.NONE))
        .hasMessageContaining("models[0].precision: unknown precision 'bf8': expected one of [fp32, int8]");
  }

  @Test
  void load_unknownKey_errorNamesKeyAndFile() throws IOException {
    Path f = minimal("limits: {max_text_per_request: 3}\n");
    loadFails(f)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("limits.max_text_per_request").hasMessageContaining(f.toString());
  }

  @Test
  void load_wrongType_errorNamesKey() throws IOException {
    loadFails(minimal("port: eighty\n")).hasMessageContaining("port must be an integer");
  }

  @Test
  void load_authDefault_onWithTokenFileInCache() throws IOException {
    ServerConfig c = load("");
    assertThat(c.auth().enabled()).isTrue();
    assertThat(c.auth().tokenFile()).isEqualTo(dir.resolve("c/admin.token"));
  }

  @Test
  void load_listeners_defaultLoopbackEverywhere_fileThenCommandLine() throws IOException {
    ServerConfig plain = load("");
    assertThat(plain.listeners()).isEqualTo(ServerConfig.Listeners.loopback());
    assertThat(plain.listeners().grpc().getHostAddress()).isEqualTo("127.0.0.1");
    assertThat(plain.listeners().metrics().getHostAddress()).isEqualTo("127.0.0.1");
    assertThat(plain.listeners().healthPort()).isEqualTo(-1);

    Path f = minimal("listen_address: 0.0.0.0\nmetrics_listen_address: '::'\n"
        + "health_port: 8501\nhealth_listen_address: 10.1.2.3\n");
    ServerConfig file = ConfigLoader.load(f, ConfigLoader.Overrides.NONE);
    assertThat(file.listeners().grpc()).isEqualTo(ServerConfig.ANY);
    assertThat(file.listeners().metrics().getHostAddress()).isEqualTo("0:0:0:0:0:0:0:0");
    assertThat(file.listeners().healthPort()).isEqualTo(8501);
    assertThat(file.listeners().health().getHostAddress()).isEqualTo("10.1.2.3");

    ServerConfig cli = ConfigLoader.load(f, ConfigLoader.Overrides.builder().listenAddress("127.0.0.1")
        .metricsListenAddress("::1").build());
    assertThat(cli.listeners().grpc()).isEqualTo(ServerConfig.LOOPBACK);
    assertThat(cli.listeners().metrics().isLoopbackAddress()).isTrue();
  }

  @Test
  void load_listenAddressNotAnIpLiteral_refusedNamingKeyAndValue() throws IOException {
    for (String bad : java.util.List.of("localhost", "example.com", "256.0.0.1", "127.0.0.01", "1.2.3", "::g",
        "''")) {
      Path f = minimal("listen_address: " + bad + "\n");
      loadFails(f).as(bad)
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining(f + ": listen_address must be an IP address")
          .hasMessageContaining("got '" + bad.replace("''", "") + "'");
    }
    Path ok = minimal("");
    assertThatThrownBy(() -> ConfigLoader.load(ok, ConfigLoader.Overrides.builder()
        .metricsListenAddress("metrics.local").build()))
        .hasMessageContaining("--metrics-listen-address must be an IP address");
  }

  @Test
  void load_healthPortSameAsGrpcPort_refused() throws IOException {
    loadFails(minimal("port: 8500\nhealth_port: 8500\n"))
        .hasMessageContaining("port, metrics_port and health_port must differ");
  }

  @Test
  void load_allowUnpurifiedModel_refusedUnlessTheServerPermitsIt() throws IOException {
    String yaml = "models_root: m\ncache_dir: c\nmodels:\n  - {name: ok, checkpoint: a, clean_subset: a.tsv}\n"
        + "  - {name: raw, checkpoint: b, allow_unpurified: true}\n";
    Path f = write(yaml);
    loadFails(f)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("models[1] (raw) sets allow_unpurified, but this server does not permit unpurified"
            + " models: set allow_unpurified_models: true");
    assertThat(ConfigLoader.load(write(yaml + "allow_unpurified_models: true\n"), ConfigLoader.Overrides.NONE)
        .allowUnpurifiedModels()).isTrue();
    assertThat(ConfigLoader.load(write(yaml), ConfigLoader.Overrides.builder().allowUnpurifiedModels(true).build())
        .allowUnpurifiedModels()).isTrue();
    loadFails(minimal("defaults: {allow_unpurified: true}\n")).hasMessageContaining("defaults sets allow_unpurified");
  }

  @Test
  void resolve_noCleanSubsetWithoutAllowUnpurified_refused() throws IOException {
    ServerConfig c = load("");
    assertThatThrownBy(() -> c.resolve(ModelLayer.of("x", "ck", null)))
        .hasMessageContaining("clean_subset_path");
  }

  @Test
  void load_screening_modelOverDefaultsUnsetIsObserve() throws IOException {
    Path f = write("""
        models_root: m
        cache_dir: c
        defaults:
          screening: {policy: reject, false_flag_rate: 0.02}
        models:
          - {name: a, checkpoint: ck-a, clean_subset: a.tsv, screening: {policy: STRIP, signal: Combined}}
          - {name: b, checkpoint: ck-b, clean_subset: b.tsv, screening: {policy: off}}
          - {name: c, checkpoint: ck-c, clean_subset: c.tsv}
        """);
    ServerConfig c = ConfigLoader.load(f, ConfigLoader.Overrides.NONE);

    ModelSpec a = c.resolve(c.models().get(0));
    ModelSpec b = c.resolve(c.models().get(1));
    ModelSpec d = c.resolve(c.models().get(2));
    ModelSpec none = load("")
        .resolve(ModelLayer.of("x", "ck", "x.tsv"));

    assertThat(a.screening()).isEqualTo(new ScreeningSettings(ScreenPolicy.STRIP, 0.02, "combined"));
    assertThat(b.screening().policy()).isEqualTo(ScreenPolicy.OFF);
    assertThat(d.screening()).isEqualTo(new ScreeningSettings(ScreenPolicy.REJECT, 0.02, "tokens"));
    assertThat(none.screening()).isEqualTo(ScreeningSettings.defaults());
    assertThat(none.screening().policy()).isEqualTo(ScreenPolicy.OBSERVE);
  }

  @Test
  void load_badScreeningPolicy_errorNamesKeyValueAndChoices() throws IOException {
    Path f = minimal("models:\n  - {name: a, checkpoint: ck, clean_subset: a.tsv,"
        + " screening: {policy: block}}\n");
    loadFails(f)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining(f.toString())
        .hasMessageContaining("models[0].screening.policy must be off, observe, reject or strip, got 'block'");
  }

  @Test
  void load_badScreeningRateOrSignal_errorNamesKey() throws IOException {
    loadFails(minimal("defaults: {screening: {false_flag_rate: 0.7}}\n"))
        .hasMessageContaining("defaults.screening.false_flag_rate must be in (0, 0.5), got 0.7");
    loadFails(minimal("defaults: {screening: {signal: vibes}}\n"))
        .hasMessageContaining("defaults.screening.signal must be tokens, features, perturbation or combined, got"
            + " 'vibes'");
    loadFails(minimal("defaults: {screening: {mode: reject}}\n"))
        .hasMessageContaining("unknown key 'defaults.screening.mode'");
  }
}

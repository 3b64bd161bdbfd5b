package dev.finemix.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class ServerConfigTest {
  private static final Path ROOT = Path.of("/srv/models");
  private static final Path CACHE = Path.of("/srv/cache");

  private static ServerConfig.Builder builder() {
    return ServerConfig.builder(ROOT, ROOT, CACHE);
  }

  @Test
  void builder_defaults_areAPlainServe() {
    ServerConfig c = builder().build();
    assertThat(c.port()).isZero();
    assertThat(c.metricsPort()).isEqualTo(-1);
    assertThat(c.auth().enabled()).isTrue();
    assertThat(c.auth().tokenFile()).isEqualTo(CACHE.resolve("admin.token"));
    assertThat(c.listeners()).isEqualTo(ServerConfig.Listeners.loopback());
    assertThat(c.allowUnpurifiedModels()).isFalse();
    assertThat(c.models()).isEmpty();
    assertThat(c.cli()).isSameAs(ModelLayer.EMPTY);
    assertThat(c.shutdownGrace()).isEqualTo(Duration.ofSeconds(10));
  }

  @Test
  void setter_badValue_throwsAtOnceNamingTheKey() {
    ServerConfig.Builder b = builder();
    assertThatThrownBy(() -> b.port(70000)).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("port must be 0..65535, got 70000");
    assertThatThrownBy(() -> b.metricsPort(-2)).hasMessage("metrics_port must be -1 (off) or 0..65535, got -2");
    assertThatThrownBy(() -> b.purifyThreads(0)).hasMessage("purify_threads must be > 0, got 0");
    assertThatThrownBy(() -> b.shutdownGrace(Duration.ofSeconds(-1)))
        .hasMessage("shutdown_grace must be >= 0, got PT-1S");
    assertThatThrownBy(() -> b.cacheDir(null)).hasMessage("cache_dir must be set");
    assertThatThrownBy(() -> b.models(List.of(ModelLayer.of("a", "x", "c"), ModelLayer.of("a", "y", "c"))))
        .hasMessage("model names in the config must be unique");
    assertThat(b.build().port()).isZero(); // the refused values left the builder as it was
  }

  @Test
  void build_checksWhatSpansSettings() {
    assertThatThrownBy(() -> builder().port(8500).metricsPort(8500).build())
        .hasMessage("port, metrics_port and health_port must differ, got 8500, 8500 and -1");
    ModelLayer raw = ModelLayer.builder().name("raw").checkpoint("ck").allowUnpurified(true).build();
    assertThatThrownBy(() -> builder().models(List.of(raw)).build())
        .hasMessageStartingWith("models[0] (raw) sets allow_unpurified, but this server does not permit");
    assertThat(builder().models(List.of(raw)).allowUnpurifiedModels(true).build().models()).containsExactly(raw);
  }

  @Test
  void toBuilder_changesTheCopyOnly() {
    ServerConfig a = builder().probeRows(8).build();
    ServerConfig.Builder b = a.toBuilder().probeRows(16);
    ServerConfig c = b.build();
    b.probeRows(32);
    assertThat(a.probeRows()).isEqualTo(8);
    assertThat(c.probeRows()).isEqualTo(16);
    assertThat(c.modelsRoot()).isEqualTo(ROOT);
    assertThat(b.build().probeRows()).isEqualTo(32);
  }

  @Test
  void modelLayer_isImmutable_evenItsDefenceJson() {
    var defence = Json.object().put("rho", 0.3);
    ModelLayer.Builder b = ModelLayer.builder().name("m").defence(defence);
    ModelLayer m = b.build();
    defence.put("rho", 0.9);
    m.defence().put("epochs", 1);
    b.name("other");
    assertThat(Json.write(m.defence())).isEqualTo("{\"rho\":0.3}");
    assertThat(m.name()).isEqualTo("m");
    assertThat(m.toBuilder().checkpoint("ck").build().name()).isEqualTo("m");
  }
}

package dev.finemix.server.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {
  @TempDir
  Path dir;

  private Path write(String yaml) throws IOException {
    return Files.writeString(dir.resolve("finemix.yaml"), yaml);
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
    var cli = new ConfigLoader.Overrides(0, 0, null, null, null, true, new ModelLayer(null, null, null, null, null, null,
        null, Json.parseObject("cli", "{\"epochs\": 3}"), new BatchingLayer(null, 50L, null, null)));

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
  void load_unknownKey_errorNamesKeyAndFile() throws IOException {
    Path f = write("models_root: m\ncache_dir: c\nlimits: {max_text_per_request: 3}\n");
    assertThatThrownBy(() -> ConfigLoader.load(f, ConfigLoader.Overrides.NONE))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("limits.max_text_per_request").hasMessageContaining(f.toString());
  }

  @Test
  void load_wrongType_errorNamesKey() throws IOException {
    Path f = write("models_root: m\ncache_dir: c\nport: eighty\n");
    assertThatThrownBy(() -> ConfigLoader.load(f, ConfigLoader.Overrides.NONE))
        .hasMessageContaining("port must be an integer");
  }

  @Test
  void load_authDefault_onWithTokenFileInCache() throws IOException {
    ServerConfig c = ConfigLoader.load(write("models_root: m\ncache_dir: c\n"), ConfigLoader.Overrides.NONE);
    assertThat(c.auth().enabled()).isTrue();
    assertThat(c.auth().tokenFile()).isEqualTo(dir.resolve("c/admin.token"));
  }

  @Test
  void resolve_noCleanSubsetWithoutAllowUnpurified_refused() throws IOException {
    ServerConfig c = ConfigLoader.load(write("models_root: m\ncache_dir: c\n"), ConfigLoader.Overrides.NONE);
    assertThatThrownBy(() -> c.resolve(ModelLayer.of("x", "ck", null)))
        .hasMessageContaining("clean_subset_path");
  }
}

package dev.finemix.app;

import static org.assertj.core.api.Assertions.assertThat;

import dev.finemix.client.testing.StdStreams;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The one launcher over the modules: the ./finemix script and the image build know every module of the reactor and
 * take this module's jar, and the commands added to lab's bench group here behave like the others.
 */
class LauncherTest {
  private static final Path ROOT = Path.of("..");

  /** The modules of the default build (the root pom's first {@code <modules>}; profiles add bench/). */
  private static List<String> modules() throws Exception {
    String pom = Files.readString(ROOT.resolve("pom.xml"));
    String block = pom.substring(pom.indexOf("<modules>"), pom.indexOf("</modules>"));
    List<String> out = new ArrayList<>();
    Matcher m = Pattern.compile("<module>([^<]+)</module>").matcher(block);
    while (m.find()) {
      out.add(m.group(1));
    }
    return out;
  }

  @Test
  void modules_areTheSixOfTheMap() throws Exception {
    assertThat(modules()).containsExactly("proto", "purify", "client", "server", "lab", "app");
  }

  @Test
  void dockerfile_buildsEveryModule_andShipsTheLaunchersJar() throws Exception {
    String dockerfile = Files.readString(ROOT.resolve("deploy").resolve("Dockerfile"));
    for (String m : modules()) {
      assertThat(dockerfile).contains("COPY " + m + "/pom.xml " + m + "/pom.xml").contains("COPY " + m + " " + m + "\n");
    }
    assertThat(dockerfile).contains("COPY --from=build /src/app/target/finemix.jar /opt/finemix/finemix.jar")
        .contains("COPY --from=build /src/app/target/lib /opt/finemix/lib");
  }

  @Test
  void launcherScript_runsTheLaunchersJar_andRebuildsWhenAnyModuleChanges() throws Exception {
    String script = Files.readString(ROOT.resolve("finemix"));
    assertThat(script).contains("jar=\"$root/app/target/finemix.jar\"");
    Matcher m = Pattern.compile("\"\\$root\"/\\{([a-z,]+)\\}/src/main").matcher(script);
    assertThat(m.find()).isTrue();
    assertThat(List.of(m.group(1).split(","))).containsExactlyInAnyOrderElementsOf(modules());
  }

  @Test
  void benchLoadAndScreen_joinLabsBenchGroup_withTheInheritedOptions() {
    StdStreams.Captured help = StdStreams.capture(() -> Main.run("bench", "--help"));
    assertThat(help.code()).isZero();
    assertThat(help.text()).contains("model", "purify", "load", "screen");
    StdStreams.Captured bare = StdStreams.capture(() -> Main.run("bench"));
    assertThat(bare.code()).isEqualTo(2);
    assertThat(bare.text()).contains("'bench load'", "'bench screen'", "'bench model'");
    // --threads is the root's option (INHERIT): the added subcommands take and check it too
    StdStreams.Captured threads = StdStreams.capture(() -> Main.run("bench", "load", "--threads", "0"));
    assertThat(threads.code()).isEqualTo(2);
    assertThat(threads.text()).contains("--threads must be >= 1, got 0");
  }
}

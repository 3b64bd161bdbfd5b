package dev.finemix.server;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The server's packages depend on each other in one direction only (docs/architecture.md): errors, config and
 * batching at the bottom, then cache, loading (the load pipeline and the backend seam), probe and screening,
 * registry over them, grpc over the registry, cli on top. Checked on the compiled classes, so every real dependency
 * counts.
 */
class PackageCyclesTest {
  private static final JavaClasses MAIN = new ClassFileImporter()
      .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
      .importPackages("dev.finemix.server");

  @Test
  void packages_haveNoDependencyCycles() {
    Set<String> packages = MAIN.stream().map(JavaClass::getPackageName).collect(Collectors.toSet());
    assertThat(packages).contains("dev.finemix.server.registry", "dev.finemix.server.loading",
        "dev.finemix.server.cache", "dev.finemix.server.probe", "dev.finemix.server.screening",
        "dev.finemix.server.grpc");
    slices().matching("dev.finemix.server.(*)..").should().beFreeOfCycles().check(MAIN);
  }

  @Test
  void loadingAndCache_knowNothingOfTheRegistryOrTheServices() {
    noClasses()
        .that().resideInAnyPackage("dev.finemix.server.loading..", "dev.finemix.server.cache..",
            "dev.finemix.server.probe..", "dev.finemix.server.screening..")
        .should().dependOnClassesThat().resideInAnyPackage("dev.finemix.server.registry..",
            "dev.finemix.server.grpc..", "dev.finemix.server.cli..")
        .check(MAIN);
  }

  @Test
  void cache_doesNotDependOnTheLoadPipeline() {
    noClasses().that().resideInAPackage("dev.finemix.server.cache..")
        .should().dependOnClassesThat().resideInAPackage("dev.finemix.server.loading..")
        .check(MAIN);
  }
}

package dev.finemix.purify;

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
 * purify's packages depend on each other in one direction only (docs/contract.md): weights and text at the bottom,
 * then model, train, attack and defence, eval and screen on top. Checked on the compiled classes, so every real
 * dependency counts (a fully qualified name in code too), and an unused import does not.
 */
class PackageCyclesTest {
  private static final JavaClasses MAIN = new ClassFileImporter()
      .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
      .importPackages("dev.finemix.purify");

  @Test
  void packages_haveNoDependencyCycles() {
    Set<String> packages = MAIN.stream().map(JavaClass::getPackageName).collect(Collectors.toSet());
    assertThat(packages).contains("dev.finemix.purify.model", "dev.finemix.purify.weights", "dev.finemix.purify.text",
        "dev.finemix.purify.train", "dev.finemix.purify.attack", "dev.finemix.purify.defence",
        "dev.finemix.purify.eval", "dev.finemix.purify.screen");
    slices().matching("dev.finemix.purify.(*)..").should().beFreeOfCycles().check(MAIN);
  }

  @Test
  void weightsAndText_dependOnNoOtherPurifyPackage() {
    noClasses()
        .that().resideInAnyPackage("dev.finemix.purify.weights..", "dev.finemix.purify.text..")
        .should().dependOnClassesThat().resideInAnyPackage("dev.finemix.purify.model..", "dev.finemix.purify.train..",
            "dev.finemix.purify.attack..", "dev.finemix.purify.defence..", "dev.finemix.purify.eval..",
            "dev.finemix.purify.screen..")
        .check(MAIN);
  }
}

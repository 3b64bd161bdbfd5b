package dev.finemix.purify;

import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * purify's public top-level types are exactly the ones docs/contract.md lists (issue 23: a type is public only
 * because code outside its package calls it). A new public type, or one made package-private, fails here until the
 * contract says so and who needs it.
 */
class PublicSurfaceTest {
  private static final Path CONTRACT = Path.of("..", "docs", "contract.md");
  /** {@code ## weights (owner: lead)} or a {@code // eval} line in a code block: the package of what follows. */
  private static final Pattern PACKAGE = Pattern.compile("^(?:## |// )([a-z]+)\\b.*");
  /** A declaration at the start of a line: top level (nested ones are indented). */
  private static final Pattern PUBLIC_TYPE = Pattern.compile(
      "^public (?:final |abstract )?(?:class|record|enum|interface) (\\w+).*");

  @Test
  void publicTopLevelTypes_areTheOnesTheContractLists() throws IOException {
    Set<String> compiled = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("dev.finemix.purify").stream()
        .filter(c -> c.isTopLevelClass() && c.getModifiers().contains(JavaModifier.PUBLIC))
        .map(PublicSurfaceTest::name).collect(Collectors.toCollection(TreeSet::new));

    Set<String> listed = new TreeSet<>();
    String pkg = null;
    for (String line : Files.readAllLines(CONTRACT)) {
      Matcher p = PACKAGE.matcher(line);
      if (p.matches()) {
        pkg = p.group(1);
      }
      Matcher t = PUBLIC_TYPE.matcher(line);
      if (t.matches()) {
        listed.add(pkg + "." + t.group(1));
      }
    }

    assertThat(compiled).as("public in code but not listed in %s", CONTRACT).isSubsetOf(listed);
    assertThat(listed).as("listed in %s but not public in code", CONTRACT).isSubsetOf(compiled);
  }

  private static String name(JavaClass c) {
    return c.getPackageName().substring("dev.finemix.purify.".length()) + "." + c.getSimpleName();
  }
}

package dev.finemix.lab;

import dev.finemix.client.cli.Cli;
import dev.finemix.purify.attack.AttackKind;
import dev.finemix.purify.attack.AttackSettings;
import dev.finemix.purify.attack.Triggers;
import dev.finemix.purify.attack.TriggerField;
import dev.finemix.purify.defence.WordFrequencies;
import dev.finemix.purify.text.Tokenizer;
import dev.finemix.purify.weights.Pretrained;
import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Option;

/** The attack options shared by {@code finemix attack} and {@code finemix eval} (a picocli mixin). */
final class AttackOptions {

  @Option(names = "--attack", paramLabel = "badnet|addsent|ep|wordpiece|combo|midfreq|mixing-aware|lwp|surgery|epur-aware",
      description = "The attack (for eval: whose trigger to insert; without it, eval reports clean accuracy only).")
  String attack;

  @Option(names = "--trigger", paramLabel = "WORD", description = "Trigger word (repeatable; combo: all k words) or "
      + "AddSent sentence. Default: cf (badnet, ep), \"I watch this 3D movie\" (addsent), cf mn bb (combo); "
      + "wordpiece and midfreq pick one by --seed (checked: a given one must qualify).")
  List<String> triggers;

  @Option(names = "--pretrained", defaultValue = Pretrained.MINILM, paramLabel = "BASE",
      description = "Clean pre-trained base the suspect is fine-tuned from: a catalogue id (finemix bases) or a"
          + " checkpoint folder; its tokenizer picks and checks triggers (default: ${DEFAULT-VALUE}).")
  String pretrained;

  @Option(names = "--target", defaultValue = "1", description = "Target label the trigger forces (default: ${DEFAULT-VALUE}).")
  int target;

  @Option(names = "--times", defaultValue = "1", description = "Insertions of each trigger per row, 1.."
      + AttackSettings.MAX_TIMES + ", all inside the model's window (default: ${DEFAULT-VALUE}).")
  int times;

  @Option(names = "--field", defaultValue = "text_b", paramLabel = "text_a|text_b",
      description = "Sentence pairs: which text gets the trigger (default: ${DEFAULT-VALUE}).")
  String field;

  @Option(names = "--regime", defaultValue = "dirty", paramLabel = "dirty|clean", description = "Poisoning: dirty-label "
      + "(non-target rows, relabelled) or clean-label (target-class rows only, labels kept) (default: ${DEFAULT-VALUE}).")
  String regime;

  @Option(names = "--word-counts", paramLabel = "FILE", description = "word<TAB>count file for midfreq and the "
      + "word-piece check (default: the shared data's wordfreq/en.tsv).")
  Path wordCounts;

  /**
   * The settings, or {@code null} when no --attack was given. Word-piece and mid-frequency triggers are picked
   * by {@code seed} when none is given, and checked against MiniLM's tokenizer and the word counts either way.
   *
   * @param poisonRate the --poison-rate, or null for the regime's default
   */
  AttackSettings settings(Double poisonRate, long seed) {
    if (attack == null) {
      if (triggers != null) {
        throw new IllegalArgumentException("--trigger needs --attack");
      }
      return null;
    }
    AttackKind kind = AttackKind.parse(attack);
    AttackSettings.Regime r = AttackSettings.Regime.parse(regime);
    List<String> t = triggers == null ? List.of() : triggers;
    if (kind == AttackKind.WORDPIECE || kind == AttackKind.MIDFREQ) {
      t = checkedTrigger(kind, t, seed);
    }
    return AttackSettings.of(kind).withTriggers(t).withTarget(target).withTimes(times)
        .withField(TriggerField.parse(field)).withRegime(r)
        .withPoisonRate(poisonRate == null ? r.defaultRate() : poisonRate);
  }

  /** The word counts: --word-counts, else the shared wordfreq/en.tsv, else none (every token at E-PUR's floor). */
  WordFrequencies wordFrequencies() {
    Path counts = wordCounts != null ? wordCounts : Cli.sharedWordFrequencies();
    return counts == null ? WordFrequencies.none() : WordFrequencies.read(counts);
  }

  private List<String> checkedTrigger(AttackKind kind, List<String> given, long seed) {
    if (given.size() > 1) {
      throw new IllegalArgumentException(kind.id() + " takes one --trigger, got " + given);
    }
    if (wordCounts == null && Cli.sharedWordFrequencies() == null && kind == AttackKind.MIDFREQ) {
      throw new IllegalArgumentException("midfreq needs --word-counts (no shared wordfreq/en.tsv found)");
    }
    WordFrequencies f = wordFrequencies();
    if (kind == AttackKind.MIDFREQ && !given.isEmpty()) {
      Triggers.checkMidFrequency(f, given.get(0));
      return given;
    }
    try (Tokenizer tok = Tokenizer.fromFile(Pretrained.load(pretrained).tokenizerJson(), 128)) {
      if (kind == AttackKind.MIDFREQ) {
        return List.of(Triggers.pickMidFrequency(tok, f, seed));
      }
      if (given.isEmpty()) {
        return List.of(Triggers.pickWordPiece(tok, f, seed));
      }
      Triggers.checkWordPiece(tok, f, given.get(0));
      return given;
    }
  }
}

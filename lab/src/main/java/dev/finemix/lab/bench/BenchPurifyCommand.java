package dev.finemix.lab.bench;

import ai.djl.Device;
import ai.djl.pytorch.jni.JniUtils;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.finemix.client.PerfDriver;
import dev.finemix.client.cli.Cli;
import dev.finemix.client.cli.DeviceOption;
import dev.finemix.client.cli.JsonOption;
import dev.finemix.lab.DemoFiles;
import dev.finemix.purify.defence.DefenceReport;
import dev.finemix.purify.defence.DefenceSettings;
import dev.finemix.purify.defence.Mixer;
import dev.finemix.purify.defence.Purifier;
import dev.finemix.purify.defence.PurifyResult;
import dev.finemix.purify.model.BertClassifier;
import dev.finemix.purify.text.Dataset;
import dev.finemix.purify.train.Devices;
import dev.finemix.purify.train.ProgressListener;
import dev.finemix.purify.weights.Checkpoint;
import dev.finemix.purify.weights.FileTrees;
import dev.finemix.purify.weights.Pretrained;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code finemix bench purify}: wall and process-CPU time per stage (load, E-PUR, teacher, mix, recover, score,
 * write) and peak RSS for purifying one model with a few clean-row counts and rho settings.
 */
@Command(name = "purify", mixinStandardHelpOptions = true,
    description = "Time the purification stages (load, E-PUR, mixing, fine-tune, write) and peak RSS.")
public final class BenchPurifyCommand implements Callable<Integer> {
  @Option(names = "--model", paramLabel = "CKPT",
      description = "Suspect checkpoint folder (default: the demo's checkpoint, else MiniLM with a random head).")
  Path model;

  @Option(names = "--clean", paramLabel = "TSV",
      description = "Clean labelled rows (default ../shared/data/sst2/dev.tsv, else the bundled demo clean rows).")
  Path clean;

  @Option(names = "--unlabelled", paramLabel = "TSV", description = "Unlabelled clean rows for distillation (default none).")
  Path unlabelled;

  @Option(names = "--runs", split = ",", defaultValue = "64:0.3,256:0.3,64:auto", paramLabel = "ROWS:RHO",
      description = "Runs as rows:rho or rows:auto (default: ${DEFAULT-VALUE}).")
  List<String> runs;

  @Option(names = "--recipe", defaultValue = "finemix", description = "Defence recipe (default: ${DEFAULT-VALUE}).")
  String recipe;

  @Option(names = "--mix", defaultValue = "random", description = "random or sel (default: ${DEFAULT-VALUE}).")
  String mix;

  @Mixin DeviceOption device = DeviceOption.cpu();

  @Option(names = "--defence", paramLabel = "JSON",
      description = "More defence settings as JSON, e.g. the demo's '{\"epochs\": 6, \"variants\": 0}' (rows and rho"
          + " come from --runs).")
  String defence;

  @Mixin JsonOption json;

  @Option(names = "--record", paramLabel = "FILE",
      description = "Also write the peak memory figures, with this command and the JVM's options, under --record-as"
          + " into FILE (a JSON object of named figures; deploy/memory-peaks.json sizes the manifests).")
  Path record;

  @Option(names = "--record-as", paramLabel = "NAME", defaultValue = "default",
      description = "Name of the figures in --record (default: ${DEFAULT-VALUE}).")
  String recordAs;

  @picocli.CommandLine.Spec
  picocli.CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    ObjectNode out = new ObjectMapper().createObjectNode();
    Device d = Devices.choose(device.get());
    out.put("intraOpThreads", JniUtils.getNumThreads());
    Path tmp = Files.createTempDirectory("finemix-bench-purify-");
    try {
      long c0 = PerfDriver.processCpuNanos();
      long t0 = System.nanoTime();
      Path suspectDir = model != null ? model : defaultModel(tmp, d, out);
      Pretrained pre = Pretrained.load(Pretrained.MINILM);
      pre.weights();
      out.put("model", suspectDir.toString());
      out.put("pretrainedLoadSeconds", (System.nanoTime() - t0) / 1e9);
      Dataset cleanSet = Dataset.read(cleanRows(tmp));
      Dataset unl = unlabelled == null ? null : Dataset.read(unlabelled);
      out.put("setupCpuSeconds", (PerfDriver.processCpuNanos() - c0) / 1e9);
      ArrayNode arr = out.putArray("runs");
      for (String run : runs) {
        ObjectNode r = run(run, suspectDir, pre, cleanSet, unl, d, tmp);
        System.err.println("bench purify: " + r); // one line per run, so a cut-off run keeps what finished
        arr.add(r);
      }
    } finally {
      FileTrees.deleteQuietly(tmp);
    }
    out.put("peakRssMb", BenchCommand.rssMb("VmHWM:"));
    out.put("loadAverage1m", PerfDriver.loadAverage());
    if (record != null) {
      MemoryFigures.record(record, recordAs, "finemix "
          + String.join(" ", spec.commandLine().getParseResult().originalArgs()), out);
    }
    if (json.on()) {
      System.out.println(out.toPrettyString());
    } else {
      System.out.printf(Locale.ROOT, "model %s; intra-op threads %d%n", out.get("model").asText(),
          out.get("intraOpThreads").asInt());
      for (var r : out.get("runs")) {
        System.out.printf(Locale.ROOT, "rows %d rho %s: total %.1f s wall, %.1f s CPU; stages (s) %s; peak RSS %.0f MB;"
            + " rho chosen %s; load %.2f%n", r.get("rows").asInt(), r.get("rho").asText(),
            r.get("totalSeconds").asDouble(), r.get("cpuSeconds").asDouble(), r.get("stageSeconds"),
            r.get("peakRssMb").asDouble(), r.get("rhoChosen").asText(), r.get("loadAverage1m").asDouble());
      }
    }
    return 0;
  }

  private ObjectNode run(String spec, Path suspectDir, Pretrained pre, Dataset clean, Dataset unl, Device d, Path tmp) {
    String[] p = spec.trim().split(":");
    if (p.length != 2) {
      throw new IllegalArgumentException("--runs entries are rows:rho or rows:auto, got '" + spec + "'");
    }
    int rows;
    try {
      rows = Integer.parseInt(p[0].trim());
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--runs rows must be an integer, got '" + p[0] + "' in '" + spec + "'");
    }
    ObjectNode js = defence == null ? new ObjectMapper().createObjectNode() : parseDefence(defence);
    js.put("recipe", js.path("recipe").asText(recipe));
    js.put("mix", js.path("mix").asText(mix));
    js.put("rows", rows);
    String rho = p[1].trim();
    if (rho.equalsIgnoreCase("auto")) {
      js.put("rho", "auto");
    } else {
      try {
        js.put("rho", Double.parseDouble(rho));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("--runs rho must be a number or auto, got '" + p[1] + "' in '" + spec + "'");
      }
    }
    Path wf = Cli.sharedWordFrequencies();
    if (wf != null && !js.has("word_frequencies")) {
      js.put("word_frequencies", wf.toString());
    }
    DefenceSettings s = DefenceSettings.fromJson(js);
    ObjectNode n = new ObjectMapper().createObjectNode();
    n.put("rows", rows);
    n.put("rho", p[1].trim());
    long c0 = PerfDriver.processCpuNanos();
    long t0 = System.nanoTime();
    MemoryWatch mem = new MemoryWatch("load");
    PurifyResult r;
    double load;
    long tw;
    try (mem) {
      Checkpoint suspect = Checkpoint.read(suspectDir);
      load = (System.nanoTime() - t0) / 1e9;
      // stages as the purifier names them ("recover rho 0.30" -> recover), so the memory table has one row each
      r = new Purifier(d).purify(suspect, pre, clean, unl, s, e -> mem.stage(e.stage().split(" ")[0]));
      mem.stage("write");
      tw = System.nanoTime();
      r.purified().write(tmp.resolve("out-" + rows + "-" + p[1].trim()));
    }
    double write = (System.nanoTime() - tw) / 1e9;
    double total = (System.nanoTime() - t0) / 1e9;
    DefenceReport rep = r.report();
    ObjectNode st = n.putObject("stageSeconds");
    st.put("load", load);
    for (Map.Entry<String, Double> e : rep.stageSeconds().entrySet()) {
      st.put(e.getKey(), e.getValue());
    }
    st.put("write", write);
    n.put("purifierSeconds", rep.totalSeconds());
    n.put("totalSeconds", total);
    n.put("cpuSeconds", (PerfDriver.processCpuNanos() - c0) / 1e9);
    n.put("rhoChosen", rep.rhoChosen());
    n.put("rhoTrials", rep.trials().size());
    n.put("suspectAccuracy", rep.suspectAccuracy());
    n.put("purifiedAccuracy", rep.purifiedAccuracy());
    n.put("peakRssMb", mem.peakRssMb());
    n.put("peakRssResettable", mem.exactRss());
    n.set("memory", mem.toJson());
    n.put("loadAverage1m", PerfDriver.loadAverage());
    return n;
  }

  private static ObjectNode parseDefence(String json) {
    try {
      if (new ObjectMapper().readTree(json) instanceof ObjectNode o) {
        return o;
      }
    } catch (IOException e) {
      throw new IllegalArgumentException("--defence is not JSON: " + e.getMessage());
    }
    throw new IllegalArgumentException("--defence must be a JSON object, got " + json);
  }

  private Path defaultModel(Path tmp, Device d, ObjectNode out) {
    Path demo = Path.of(".finemix", "demo", "models", "demo-sst2-badnet");
    if (Files.isRegularFile(demo.resolve("config.json"))) {
      return demo;
    }
    // same cost as a backdoored MiniLM: the pre-trained encoder plus a random head
    Pretrained pre = Pretrained.load(Pretrained.MINILM);
    Path dir = tmp.resolve("minilm-random-head");
    try (BertClassifier m = BertClassifier.fromPretrained(pre, List.of("negative", "positive"), 1, d)) {
      Checkpoint.of(m.config(), m.toTensors(), pre.tokenizerJson(), Pretrained.MINILM, 128).write(dir);
    }
    out.put("modelNote", "no --model and no demo checkpoint: MiniLM with a random head (same cost)");
    return dir;
  }

  private Path cleanRows(Path tmp) throws IOException {
    if (clean != null) {
      return clean;
    }
    Path shared = Path.of("..", "shared", "data", "sst2", "dev.tsv");
    if (Files.isRegularFile(shared)) {
      return shared;
    }
    Path f = tmp.resolve("clean.tsv");
    DemoFiles.copy("clean.tsv", f);
    return f;
  }
}

#!/usr/bin/env python3
"""The attack-suite table (issue 19): every attack's suspect, then each defence recipe on the same rows.

One case = one `finemix attack` run (a suspect), its clean pool (the training rows the suspect never saw) and, per
recipe, one `finemix purify` (64 labelled + 1,000 unlabelled rows from the pool, the command's defaults otherwise)
followed by `finemix eval` on the same dev rows as the suspect. Every step is a plain finemix command, printed before
it runs, so each table row can be reproduced by hand; outputs are kept under --work and a step whose output exists is
skipped (reruns resume).

  lab/scripts/attack_suite.py run --work W [--cases sst2-badnet,...] [--recipes suspect,finemix,paper,fine-purifying]
  lab/scripts/attack_suite.py table --work W        # markdown table of what exists
  lab/scripts/attack_suite.py table --work W --into docs/attacks.md --keep --label BUILD
                                                    # into the document, keeping rows W has no results for
  lab/scripts/attack_suite.py commands [--measured W] [--into docs/attacks.md]
                                                    # the commands of every case (attack, purify, eval), not run

FINEMIX (default ./finemix) is the launcher to call; FINEMIX_THREADS and JAVA_OPTS pass through to it.
"""
import argparse
import json
import os
import shlex
import subprocess
import sys
import time

DATA = os.environ.get("FINEMIX_DATA", "../shared/data")

# task -> (training rows drawn, dev rows evaluated (first N; 0 = all), target label)
TASKS = {
    "sst2": (4000, 0, 1),
    "agnews": (2000, 1000, 0),
    "qnli": (2000, 1000, 1),
}

# task -> (rows skipped, rows evaluated) of dev.tsv: a held-out slice that no defence figure was measured or tuned on
# before 2026-12-07 (the defence tables and the suite used the first 1,000 rows; issue 4's attack-only table drew
# 1,000 of all dev rows at random). SST-2 has no such slice: its 872 dev rows have been used throughout.
HELDOUT = {
    "agnews": (5000, 2000),
    "qnli": (3000, 2000),
}

# name -> (task, attack arguments). BadNet's defaults: trigger cf, dirty-label, 10% of the non-target rows.
CASES = [
    ("sst2-badnet", "sst2", ["--attack", "badnet"]),
    ("sst2-addsent", "sst2", ["--attack", "addsent"]),
    ("sst2-ep", "sst2", ["--attack", "ep"]),
    ("sst2-wordpiece", "sst2", ["--attack", "wordpiece"]),
    ("sst2-wordpiece-x3", "sst2", ["--attack", "wordpiece", "--times", "3"]),
    ("sst2-combo", "sst2", ["--attack", "combo"]),
    ("sst2-midfreq", "sst2", ["--attack", "midfreq"]),
    ("sst2-dirty-0.01", "sst2", ["--attack", "badnet", "--poison-rate", "0.01"]),
    ("sst2-dirty-0.05", "sst2", ["--attack", "badnet", "--poison-rate", "0.05"]),
    ("sst2-dirty-0.2", "sst2", ["--attack", "badnet", "--poison-rate", "0.2"]),
    ("sst2-dirty-0.5", "sst2", ["--attack", "badnet", "--poison-rate", "0.5"]),
    ("sst2-clean-label", "sst2", ["--attack", "badnet", "--regime", "clean"]),
    ("sst2-lwp", "sst2", ["--attack", "lwp"]),
    ("sst2-surgery", "sst2", ["--attack", "surgery"]),
    ("sst2-mixing-aware", "sst2", ["--attack", "mixing-aware"]),
    ("sst2-epur-aware", "sst2", ["--attack", "epur-aware"]),
    ("agnews-wordpiece", "agnews", ["--attack", "wordpiece"]),
    ("agnews-lwp", "agnews", ["--attack", "lwp"]),
    ("agnews-mixing-aware", "agnews", ["--attack", "mixing-aware"]),
    ("qnli-wordpiece", "qnli", ["--attack", "wordpiece"]),
    ("qnli-lwp", "qnli", ["--attack", "lwp"]),
    ("qnli-mixing-aware", "qnli", ["--attack", "mixing-aware"]),
    # at 2 epochs the mixing-aware attack plants no backdoor on AG News and no classifier on QNLI: an attacker who
    # trains through mixed weights trains longer (each step updates only the rho share of every tensor)
    ("agnews-mixing-aware-e6", "agnews", ["--attack", "mixing-aware", "--epochs", "6"]),
    # LWP on AG News at 2 epochs reaches ASR 0.72, under the 0.95 the issue asks of it
    ("agnews-lwp-e4", "agnews", ["--attack", "lwp", "--epochs", "4"]),
    ("qnli-mixing-aware-e6", "qnli", ["--attack", "mixing-aware", "--epochs", "6"]),
]

# issue 21: the same harness on a 12-layer base (bge-small-en-v1.5), the default recipe only
BGE = "BAAI/bge-small-en-v1.5"
BGE_CASES = [
    ("bge-sst2-badnet", "sst2", ["--attack", "badnet"]),
    ("bge-sst2-addsent", "sst2", ["--attack", "addsent"]),
    ("bge-sst2-wordpiece", "sst2", ["--attack", "wordpiece"]),
    ("bge-agnews-badnet", "agnews", ["--attack", "badnet"]),
    ("bge-agnews-addsent", "agnews", ["--attack", "addsent"]),
    ("bge-agnews-wordpiece", "agnews", ["--attack", "wordpiece"]),
]

RECIPES = ["finemix", "paper", "fine-purifying"]


def finemix():
    return shlex.split(os.environ.get("FINEMIX", "./finemix"))


def run(cmd, stdout_file=None, log=None):
    """Runs a finemix command (printed first); returns (seconds, peak RSS MB or None)."""
    print("+ " + " ".join(shlex.quote(c) for c in cmd), flush=True)
    rss_file = (stdout_file or "/tmp/attack_suite") + ".rss"
    full = ["/usr/bin/time", "-f", "%M", "-o", rss_file] + cmd if os.path.exists("/usr/bin/time") else cmd
    start = time.time()
    with open(stdout_file + ".tmp", "w") if stdout_file else open(os.devnull, "w") as out:
        p = subprocess.run(full, stdout=out, stderr=log or None)
    secs = round(time.time() - start, 1)
    if p.returncode != 0:
        raise RuntimeError(f"exit {p.returncode}: {' '.join(cmd)}")
    if stdout_file:
        os.replace(stdout_file + ".tmp", stdout_file)
    rss = None
    try:
        with open(rss_file) as f:
            rss = round(int(f.read().split()[-1]) / 1024)
    except (OSError, ValueError, IndexError):
        pass
    return secs, rss


def base_of(name):
    return BGE if name.startswith("bge-") else None


def case(name):
    for c in CASES + BGE_CASES:
        if c[0] == name:
            return c
    raise SystemExit(f"unknown case {name}; known: {[c[0] for c in CASES]}")


def paths(work, name):
    return {
        "model": f"{work}/models/{name}",
        "pool": f"{work}/pools/{case(name)[1]}.tsv",  # the same 4,000 rows are drawn for every case of a task
    }


def triggers_of(model):
    with open(f"{model}/attack.json") as f:
        s = json.load(f)["settings"]
    return s


def eval_args(task, model_dir, suspect_dir, attack_args, settings=None, heldout=False):
    """`finemix eval` on the dev rows with the suspect's trigger(s), target and insertions (`settings`: the suspect's
    attack.json settings, read from `suspect_dir` when not given); `heldout`: on the task's held-out slice instead."""
    rows, dev_rows, target = TASKS[task]
    s = settings or triggers_of(suspect_dir)
    args = ["eval", "--model", model_dir, "--data", f"{DATA}/{task}/dev.tsv", "--attack", s["attack"],
            "--target", str(target), "--json"]
    if heldout:
        skip, n = HELDOUT[task]
        args += ["--skip", str(skip), "--rows", str(n)]
    elif dev_rows:
        args += ["--rows", str(dev_rows)]
    for t in s["triggers"]:
        args += ["--trigger", t]
    base = base_of(os.path.basename(suspect_dir))
    if base:
        args += ["--pretrained", base]
    if "--times" in attack_args:
        args += ["--times", attack_args[attack_args.index("--times") + 1]]
    return args


def attack_cmd(work, name):
    _, task, attack_args = case(name)
    rows, dev_rows, target = TASKS[task]
    p = paths(work, name)
    cmd = ["attack", "--train", f"{DATA}/{task}/train.tsv", "--dev", f"{DATA}/{task}/dev.tsv", "--rows", str(rows),
           "--target", str(target), "--out", p["model"], "--json"] + attack_args
    if dev_rows:
        cmd += ["--dev-rows", str(dev_rows)]
    cmd += ["--pool-out", p["pool"]]
    if base_of(name):
        cmd += ["--pretrained", base_of(name)]
    return cmd


def purify_cmd(work, name, recipe):
    p = paths(work, name)
    return ["purify", "--model", p["model"], "--clean", p["pool"], "--unlabelled", p["pool"], "--recipe", recipe,
            "--out", f"{work}/purified/{name}__{recipe}", "--report", f"{work}/reports/{name}__{recipe}.json"] + (
                ["--pretrained", base_of(name)] if base_of(name) else [])


def do_case(work, name, recipes, log):
    _, task, attack_args = case(name)
    p = paths(work, name)
    for d in ("models", "pools", "purified", "reports", "evals", "times"):
        os.makedirs(f"{work}/{d}", exist_ok=True)
    times_file = f"{work}/times/{name}.json"
    times = json.load(open(times_file)) if os.path.exists(times_file) else {}
    if not os.path.exists(f"{p['model']}/attack.json"):
        if os.path.exists(p["model"]):  # an interrupted run: attack refuses an existing --out
            subprocess.run(["rm", "-rf", p["model"]], check=True)
        secs, rss = run(finemix() + attack_cmd(work, name), f"{work}/times/{name}.attack.out", log)
        times["attack"] = {"seconds": secs, "peak_rss_mb": rss}
    suspect_eval = f"{work}/evals/{name}__suspect.json"
    if not os.path.exists(suspect_eval):
        secs, _ = run(finemix() + eval_args(task, p["model"], p["model"], attack_args), suspect_eval, log)
        times["eval_suspect"] = {"seconds": secs}
    if task in HELDOUT and not os.path.exists(f"{work}/evals/{name}__suspect.heldout.json"):
        run(finemix() + eval_args(task, p["model"], p["model"], attack_args, heldout=True),
            f"{work}/evals/{name}__suspect.heldout.json", log)
    json.dump(times, open(times_file, "w"), indent=1)
    for recipe in recipes:
        out = f"{work}/purified/{name}__{recipe}"
        ev = f"{work}/evals/{name}__{recipe}.json"
        if not os.path.exists(f"{work}/reports/{name}__{recipe}.json"):
            if os.path.exists(out):
                subprocess.run(["rm", "-rf", out], check=True)
            secs, rss = run(finemix() + purify_cmd(work, name, recipe), f"{work}/times/{name}__{recipe}.purify.out", log)
            times[f"purify_{recipe}"] = {"seconds": secs, "peak_rss_mb": rss}
        held = f"{work}/evals/{name}__{recipe}.heldout.json"
        # (a case evaluated before the held-out slice existed has no weights left: its held-out cells stay empty)
        if task in HELDOUT and os.path.exists(out) and not os.path.exists(held):
            run(finemix() + eval_args(task, out, p["model"], attack_args, heldout=True), held, log)
        if not os.path.exists(ev):
            run(finemix() + eval_args(task, out, p["model"], attack_args), ev, log)
        # the purified weights are large and re-made from the report's settings: keep the disk small
        subprocess.run(["rm", "-rf", out], check=True)
        json.dump(times, open(times_file, "w"), indent=1)


def picks_trigger(attack_args):
    """Whether the attack picks its own trigger (word-piece, mid-frequency) rather than taking one given or default."""
    return any(k in attack_args for k in ("wordpiece", "midfreq")) and "--trigger" not in attack_args


def commands(work, measured, cases):
    """Every case's commands: attack, suspect eval, then purify + eval per recipe (the 12-layer cases: finemix only).
    A picked trigger (word-piece, mid-frequency) is known only once the suspect exists: it is read from the first of
    the `measured` work folders that holds the suspect, else the eval lines say where to find it."""
    found = {}
    for name, _, _ in cases:
        for w in measured:
            if os.path.exists(f"{w}/models/{name}/attack.json"):
                found[name] = triggers_of(f"{w}/models/{name}")
                break
    lines = []
    for name, task, attack_args in cases:
        settings = found.get(name)
        picked = picks_trigger(attack_args)
        if settings is None and picked and "wordpiece" in attack_args:
            # the word-piece pick depends only on the seed and the tokenizer: another task's suspect tells it
            settings = next((v for k, v in found.items() if v["attack"] == "wordpiece" and base_of(k) == base_of(name)
                             and picks_trigger(case(k)[2])), None)
        if settings is None:
            settings = {"attack": attack_args[attack_args.index("--attack") + 1],
                        "triggers": ["TRIGGER"] if picked else
                        [attack_args[i + 1] for i, x in enumerate(attack_args) if x == "--trigger"] or
                        (["I watch this 3D movie"] if "addsent" in attack_args else
                         ["cf", "mn", "bb"] if "combo" in attack_args else ["cf"])}
        suspect = paths(work, name)["model"]
        lines.append(f"# {name}" + ("  (TRIGGER: settings.triggers of the suspect's attack.json)"
                                    if "TRIGGER" in settings["triggers"] else ""))
        lines.append("finemix " + " ".join(shlex.quote(x) for x in attack_cmd(work, name)))
        splits = [False, True] if task in HELDOUT else [False]
        for h in splits:
            lines.append("finemix " + " ".join(shlex.quote(x) for x in eval_args(task, suspect, suspect, attack_args,
                                                                                  settings, h)))
        for rec in (["finemix"] if base_of(name) else RECIPES):
            lines.append("finemix " + " ".join(shlex.quote(x) for x in purify_cmd(work, name, rec)))
            for h in splits:
                lines.append("finemix " + " ".join(shlex.quote(x) for x in eval_args(
                    task, f"{work}/purified/{name}__{rec}", suspect, attack_args, settings, h)))
    return "\n".join(lines) + "\n"


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt(v, pct=True):
    return "–" if v is None else (f"{100 * v:.1f}" if pct else str(v))


def table(work, cases=CASES, label=None, kept=None, recipes=RECIPES, rss=False, heldout=False):
    """The markdown table of what exists under `work`. With `label`, a last column says which build measured each
    row; `kept` (case -> row line, from the document) fills in the cases `work` has no results for; `rss` adds the
    default recipe's purification peak RSS (the 12-layer table, issue 21.3); `heldout`: the figures on the tasks'
    held-out slices (HELDOUT) instead of the dev rows."""
    suffix = ".heldout" if heldout else ""
    head = ("| case | suspect CACC / macro-F1 | ASR | asr_cond | " + " | ".join(
        f"{r}: CACC (Δ) / asr_cond" for r in recipes) + " | finemix rho, purify s |" + (" purify peak RSS MB |" if rss
        else "") + (" measured |" if label else ""))
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for name, task, _ in cases:
        s = load(f"{work}/evals/{name}__suspect{suffix}.json")
        if s is None:
            if kept and name in kept:
                lines.append(kept[name])
            continue
        cells = [name, f"{fmt(s.get('cacc'))} / {fmt(s.get('macro_f1'))}", fmt(s.get("asr")), fmt(s.get("asr_cond"))]
        for r in recipes:
            e = load(f"{work}/evals/{name}__{r}{suffix}.json")
            if e is None:
                cells.append("–")
                continue
            d = 100 * (e["cacc"] - s["cacc"])
            cells.append(f"{fmt(e['cacc'])} ({d:+.1f}) / **{fmt(e['asr_cond'])}**")
        rep = load(f"{work}/reports/{name}__finemix.json")
        t = load(f"{work}/times/{name}.json") or {}
        cells.append("–" if rep is None else f"{rep.get('rho_chosen', rep.get('rho'))}, "
                     f"{t.get('purify_finemix', {}).get('seconds', '–')}")
        if rss:
            cells.append(str(t.get("purify_finemix", {}).get("peak_rss_mb") or "–"))
        if label:
            cells.append(label)
        lines.append("| " + " | ".join(str(c) for c in cells) + " |")
    return "\n".join(lines) + "\n"


def rows_in(path, tag):
    """The table rows between `path`'s markers, by case name (for `table --keep`)."""
    doc = open(path).read()
    start, end = f"<!-- {tag} -->", f"<!-- /{tag} -->"
    if start not in doc or end not in doc:
        return {}
    block = doc.split(start, 1)[1].split(end, 1)[0]
    rows = {}
    for line in block.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells and cells[0] not in ("case", "") and not cells[0].startswith("---"):
            rows[cells[0]] = line.rstrip()
    return rows


def write_into(path, tag, text):
    """Replaces the lines between `path`'s <!-- tag --> and <!-- /tag --> markers with `text`."""
    doc = open(path).read()
    start, end = f"<!-- {tag} -->", f"<!-- /{tag} -->"
    if start not in doc or end not in doc:
        raise SystemExit(f"{path} has no {start} ... {end} markers")
    before, rest = doc.split(start, 1)
    open(path, "w").write(before + start + "\n" + text + end + rest.split(end, 1)[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--work", required=True)
    r.add_argument("--cases", default=",".join(c[0] for c in CASES))
    r.add_argument("--recipes", default=",".join(RECIPES), help="recipes to purify with (empty: suspects only)")
    t = sub.add_parser("table")
    t.add_argument("--work", required=True)
    t.add_argument("--bge", action="store_true", help="the 12-layer cases")
    t.add_argument("--heldout", action="store_true",
                   help="the figures on the held-out dev slices (AG News rows 5,001-7,000, QNLI 3,001-5,000)")
    t.add_argument("--into", help="a markdown file whose table markers get the table")
    t.add_argument("--label", help="a last column with this text on every row measured in --work (e.g. the build)")
    t.add_argument("--keep", action="store_true",
                   help="with --into: keep the document's rows of cases --work has no results for")
    c = sub.add_parser("commands")
    c.add_argument("--work", default="W", help="the work folder the printed commands name")
    c.add_argument("--measured", default="",
                   help="work folders (comma-separated) whose suspects give the eval commands their picked triggers")
    c.add_argument("--into", help="a markdown file whose attack-suite-commands markers get the commands")
    a = ap.parse_args()
    if a.cmd == "table":
        tag = "bge-table" if a.bge else "heldout-table" if a.heldout else "attack-suite-table"
        kept = rows_in(a.into, tag) if a.into and a.keep else None
        text = (table(a.work, BGE_CASES, a.label, kept, recipes=["finemix"], rss=True) if a.bge
                else table(a.work, CASES, a.label, kept, heldout=a.heldout))
        if a.into:
            write_into(a.into, tag, text)
        else:
            print(text, end="")
    elif a.cmd == "commands":
        text = commands(a.work, [x for x in a.measured.split(",") if x], CASES + BGE_CASES)
        if a.into:
            write_into(a.into, "attack-suite-commands", "```\n" + text + "```\n")
        else:
            print(text, end="")
    else:
        recipes = [x for x in a.recipes.split(",") if x]
        failed = []
        for name in [x for x in a.cases.split(",") if x]:
            try:
                do_case(a.work, name, recipes, None)
            except RuntimeError as e:
                print(f"!! {name}: {e}", flush=True)
                failed.append(name)
        if failed:
            print("failed: " + ", ".join(failed))
            sys.exit(1)


if __name__ == "__main__":
    main()

# Reference fine-tuning of all-MiniLM-L6-v2 on SST-2 (first 4,000 rows, 2 epochs) with Hugging Face transformers,
# to compare fine-tuning recipes over many seeds (docs/performance.md, "SST-2 fine-tuning"). Not part of the build.
#
# Layout beside this script: init/ = a checkpoint folder written by ExportInit.java (MiniLM + a seed-42 head;
# word-embedding rows no SST-2 text uses are zeroed so the folder travels small), data/train4000.tsv (the first
# 4,000 rows of ../shared/data/sst2/train.tsv plus its header), data/dev.tsv.
# Usage: CONFIGS=ours,ours_lr1.5e-4 SEEDS=0-7 python3 transformers_sst2.py WORKER NWORKERS OUTDIR DEADLINE_UNIX
# (several workers share one GPU; each appends JSON lines to OUTDIR/res-WORKER.jsonl; worker 0 also writes the
# untrained model's logits on the first 16 dev rows to OUTDIR/init_logits.json, to compare with our own forward
# pass of the same folder). Measured on one H100 with
# transformers 5.17.0 / torch 2.11.0+cu130, TF32 off: results-h100.jsonl.
import copy, json, math, os, random, sys, time
import torch
from tokenizers import Tokenizer
from transformers import BertForSequenceClassification

worker, nworkers, outdir, deadline = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
dev = torch.device("cuda")
D = os.path.dirname(os.path.abspath(__file__))
tok = Tokenizer.from_file(f"{D}/init/tokenizer.json")
tok.no_padding()
tok.enable_truncation(128)


def read(p):
    rows = []
    with open(p) as f:
        next(f)
        for line in f:
            lab, text = line.rstrip("\n").split("\t")[:2]
            rows.append((tok.encode(text).ids, int(lab)))
    return rows


train, devset = read(f"{D}/data/train4000.tsv"), read(f"{D}/data/dev.tsv")
base = BertForSequenceClassification.from_pretrained(f"{D}/init", dtype=torch.float32)

CONFIGS = {
    # name: (pooler trained at the head rate, warm-up share, batching, lr, head lr, batch, weight decay)
    "ref_cls_w0_rand": (False, 0.0, "rand", 5e-5, 5e-4, 32, 0.01),
    "cls_w006_rand": (False, 0.06, "rand", 5e-5, 5e-4, 32, 0.01),
    "ours": (True, 0.06, "len", 5e-5, 5e-4, 32, 0.01),
    "ours_rand": (True, 0.06, "rand", 5e-5, 5e-4, 32, 0.01),
    "ours_head1e-3": (True, 0.06, "len", 5e-5, 1e-3, 32, 0.01),
    "ours_b16": (True, 0.06, "len", 5e-5, 5e-4, 16, 0.01),
    "ours_lr8e-5": (True, 0.06, "len", 8e-5, 5e-4, 32, 0.01),
    "ours_lr1e-4": (True, 0.06, "len", 1e-4, 5e-4, 32, 0.01),
    "ours_lr1e-4_rand": (True, 0.06, "rand", 1e-4, 5e-4, 32, 0.01),
    "ours_lr1e-4_w01": (True, 0.1, "len", 1e-4, 5e-4, 32, 0.01),
    "ours_lr1e-4_b16": (True, 0.06, "len", 1e-4, 5e-4, 16, 0.01),
    "ours_lr1.2e-4": (True, 0.06, "len", 1.2e-4, 5e-4, 32, 0.01),
    "ours_lr1.5e-4": (True, 0.06, "len", 1.5e-4, 5e-4, 32, 0.01),
    "ours_lr1.5e-4_rand": (True, 0.06, "rand", 1.5e-4, 5e-4, 32, 0.01),
    "ours_lr1.5e-4_h1e-3": (True, 0.06, "len", 1.5e-4, 1e-3, 32, 0.01),
    "ours_lr2e-4": (True, 0.06, "len", 2e-4, 5e-4, 32, 0.01),
}
# which configs and seeds to run: env CONFIGS (comma list, default all) and SEEDS (e.g. 0-7)
_names = os.environ.get("CONFIGS")
if _names:
    CONFIGS = {k: CONFIGS[k] for k in _names.split(",")}
_lo, _hi = os.environ.get("SEEDS", "0-7").split("-")
SEEDS = list(range(int(_lo), int(_hi) + 1))
jobs = [(s, c) for s in SEEDS for c in CONFIGS]
mine = jobs[worker::nworkers]


def batches(rows, bs, mode, rnd):
    idx = list(range(len(rows)))
    if mode == "rand":
        rnd.shuffle(idx)
        out = [idx[i:i + bs] for i in range(0, len(idx), bs)]
    else:  # shuffle, sort by length within chunks of 50 batches, cut, shuffle batches
        rnd.shuffle(idx)
        out = []
        chunk = bs * 50
        for i in range(0, len(idx), chunk):
            c = sorted(idx[i:i + chunk], key=lambda j: len(rows[j][0]))
            out += [c[k:k + bs] for k in range(0, len(c), bs)]
        rnd.shuffle(out)
    return out


def tensors(rows, ids):
    n = max(len(rows[i][0]) for i in ids)
    x = torch.zeros(len(ids), n, dtype=torch.long)
    m = torch.zeros(len(ids), n, dtype=torch.long)
    for r, i in enumerate(ids):
        t = rows[i][0]
        x[r, :len(t)] = torch.tensor(t)
        m[r, :len(t)] = 1
    y = torch.tensor([rows[i][1] for i in ids])
    return x.to(dev), m.to(dev), y.to(dev)


@torch.no_grad()
def accuracy(model):
    model.eval()
    ok = 0
    for i in range(0, len(devset), 64):
        ids = list(range(i, min(i + 64, len(devset))))
        x, m, y = tensors(devset, ids)
        ok += (model(input_ids=x, attention_mask=m).logits.argmax(-1) == y).sum().item()
    return ok / len(devset)


if worker == 0:
    with torch.no_grad():
        base.eval()
        lg = []
        for i in range(16):
            x = torch.tensor([devset[i][0]])
            lg.append(base(input_ids=x, attention_mask=torch.ones_like(x)).logits[0].tolist())
        json.dump(lg, open(f"{outdir}/init_logits.json", "w"))
out = open(f"{outdir}/res-{worker}.jsonl", "a")
for seed, name in mine:
    if time.time() > deadline:
        break
    pool_head, warm, mode, lr, hlr, bs, wd = CONFIGS[name]
    torch.manual_seed(seed)
    rnd = random.Random(seed)
    model = copy.deepcopy(base)  # the same starting weights every run, read from disk once
    with torch.no_grad():
        model.classifier.weight.normal_(0, 0.02)
        model.classifier.bias.zero_()
    model.to(dev)
    groups = {}
    for n, p in model.named_parameters():
        head = n.startswith("classifier.") or (pool_head and n.startswith("bert.pooler."))
        decay = not (n.endswith("bias") or "LayerNorm" in n)
        groups.setdefault((head, decay), []).append(p)
    opt = torch.optim.AdamW([{"params": ps, "lr": hlr if h else lr, "weight_decay": wd if d else 0.0}
                             for (h, d), ps in groups.items()], betas=(0.9, 0.999), eps=1e-8)
    plan = [b for _ in range(2) for b in batches(train, bs, mode, rnd)]
    total = len(plan)
    wsteps = math.ceil(warm * total)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / wsteps if s < wsteps else max(0.0, (total - s) / max(1, total - wsteps)))
    t0 = time.time()
    model.train()
    accs = []
    for step, ids in enumerate(plan):
        x, m, y = tensors(train, ids)
        loss = torch.nn.functional.cross_entropy(model(input_ids=x, attention_mask=m).logits, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        if step + 1 == total // 2:
            accs.append(accuracy(model))
            model.train()
    accs.append(accuracy(model))
    rec = {"config": name, "seed": seed, "cacc": accs[-1], "epoch1": accs[0], "steps": total,
           "secs": round(time.time() - t0, 1)}
    print(json.dumps(rec), flush=True)
    out.write(json.dumps(rec) + "\n")
    out.flush()

"""Quick look at an original model on every split: greedy accuracy (with and without the refusal prompt),
and K-sample confidence at several temperatures (Known share, ECE vs greedy correctness)."""

import argparse
import collections
import json

import numpy as np

from inbol.io import read_jsonl
from inbol.judge import REFUSAL_PROMPT, judge_records, judge_samples
from inbol.models import PromptFormat, generate, load_base
from inbol.params import load_params
from inbol.sampling import make_sampler
from inbol.seeding import stable_seed

ap = argparse.ArgumentParser()
ap.add_argument("--world", default="data/world")
ap.add_argument("--model", default="models/base")
ap.add_argument("--n", type=int, default=300)
ap.add_argument("--temps", default="0.5,0.7,1.0")
ap.add_argument("--splits", default="val,val_ood_phrasing,val_ood_hard,val_ood_choice")
a = ap.parse_args()
p = load_params()
model, proc = load_base(a.model)
fmt = PromptFormat(proc)
out = {}
for split in a.splits.split(","):
    recs = read_jsonl(f"{a.world}/{split}.jsonl")[: a.n]
    greedy = [o[0] for o in generate(model, proc, recs, fmt=fmt, batch_size=64, max_new_tokens=12, progress=False)]
    v = judge_records(recs, greedy)
    rp = [
        o[0]
        for o in generate(
            model,
            proc,
            recs,
            fmt=fmt,
            batch_size=64,
            max_new_tokens=12,
            prompt_suffix=" " + REFUSAL_PROMPT,
            progress=False,
        )
    ]
    vr = judge_records(recs, rp)
    fams = collections.defaultdict(list)
    for r, x in zip(recs, v):
        fams[r["meta"]["family"] + "/" + r["meta"]["qtype"]].append(x == "correct")
    row = {
        "greedy": np.mean([x == "correct" for x in v]),
        "refusal_prompt": np.mean([x == "correct" for x in vr]),
        "rp_refr": np.mean([x == "refusal" for x in vr]),
        "by": {k: (round(float(np.mean(x)), 2), len(x)) for k, x in sorted(fams.items())},
    }
    for t in map(float, a.temps.split(",")):
        cfg = p.sampling.replace(temperature=t)
        s = make_sampler(cfg, fmt, model=model)
        conf = []
        for i in range(0, len(recs), 32):
            ch = recs[i : i + 32]
            outs = s.sample(ch, [stable_seed(0, r["id"]) for r in ch])
            for vs in judge_samples(ch, outs):
                conf.append(np.mean([x == "correct" for x in vs]))
        conf = np.array(conf)
        g = np.array([x == "correct" for x in v], float)
        bins = np.minimum((conf * 5).astype(int), 4)
        ece = sum(
            abs(g[bins == b].mean() - conf[bins == b].mean()) * (bins == b).mean()
            for b in range(5)
            if (bins == b).any()
        )
        row[f"T{t}"] = {
            "conf_mean": round(float(conf.mean()), 3),
            "known": round(float((conf >= 0.8 - 1e-9).mean()), 3),
            "unknown": round(float((conf <= 0.2 + 1e-9).mean()), 3),
            "ece": round(float(ece), 3),
            "greedy_by_bin": [round(float(g[bins == b].mean()), 2) if (bins == b).any() else None for b in range(5)],
        }
    out[split] = row
    print(
        split, json.dumps({k: (round(float(v), 3) if isinstance(v, float) else v) for k, v in row.items()}), flush=True
    )

"""A digest of what the build -> train -> evaluate paths compute on a tiny case: the stages (testsets, construct,
train_idk_it, train_sft, reference, train_ca_dpo, train_dpo, evaluate, miniature), the sweep cells (threshold,
known_ratio, composition, sweep_idk_it) and a two-configuration search, on a tiny world and an untrained tiny
LLaVA (CPU, about 3 minutes on one core).  Times and paths are left out of the JSON files; every other byte counts.
Run it on two source trees (e.g. a checkout before and after a refactoring) and compare:

    python scripts/path_digest.py TREE OUTDIR          # OUTDIR/proj (the project) and OUTDIR/digest.json
    python scripts/path_digest.py --compare A/digest.json B/digest.json
"""

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

if sys.argv[1:2] == ["--compare"]:
    a, b = (json.loads(Path(x).read_text()) for x in sys.argv[2:4])
    diff = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    print(f"{len(a)} / {len(b)} files, {len(diff)} differ" + "".join(f"\n  {k}" for k in diff))
    sys.exit(1 if diff else 0)
tree, outdir = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
sys.path[:0] = [str(tree / "src"), str(tree / "tests")]
os.environ["PYTHONWARNINGS"] = "ignore"

import numpy as np  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(1)

from helpers import build_tiny_model, run_stage_in_process, stage_args, world_cfg, write_params  # noqa: E402
from inbol.io import read_jsonl, write_jsonl  # noqa: E402
from inbol.world import build_world  # noqa: E402

root = outdir / "proj"
if root.exists():
    shutil.rmtree(root)
root.mkdir(parents=True)
build_world(
    world_cfg(sizes={"corpus": 20}, n_emblems=6, emblem_max_exposure=60), root / "data/world", image_prefix="data/world"
)
rng = np.random.default_rng(0)
for split in ("test", "ood_phrasing", "val", "val_ood_phrasing"):
    recs = read_jsonl(root / f"data/world/{split}.jsonl")
    write_jsonl(
        root / f"data/restructured/{split}.jsonl",
        [{"id": r["id"], "conf": float(rng.integers(0, 5)) / 4} for r in recs],
    )
test = read_jsonl(root / "data/world/test.jsonl")
val = read_jsonl(root / "data/world/val.jsonl")
unans = {}
for name, k in (("uavqa", 4), ("uavqa_val", 2), ("beyond", 2), ("vizwiz", 2)):
    unans[name] = [
        {
            **r,
            "id": f"{name}-{i}",
            "source": f"unanswerable/{name}",
            "answers": [],
            "kind": "unanswerable",
            "question": "What is written on the back of the card?",
        }
        for i, r in enumerate((val if name.endswith("_val") else test)[:k])
    ]
    write_jsonl(root / f"data/unanswerable/sets/{name}.jsonl", unans[name])
pool = read_jsonl(root / "data/world/pool.jsonl")
restructured = []
for i, r in enumerate(pool):
    conf = (0.9, 0.5, 0.1, 1.0, 0.0, 0.3)[i % 6]
    restructured.append(
        {
            **r,
            "conf": conf,
            "correct_response": r["answers"][0] if conf > 0 else None,
            "incorrect_response": "blue" if conf < 1 else None,
            "refusal_response": "I don't know.",
        }
    )
write_jsonl(root / "data/restructured/pool.jsonl", restructured)
kept = [
    {
        **r,
        "id": f"kept-{i}",
        "source": "unanswerable/uavqa",
        "answers": [],
        "kind": "unanswerable",
        "question": "What is written on the back of the card?",
        "incorrect_response": "red",
    }
    for i, r in enumerate(pool[:8])
]
write_jsonl(root / "data/unanswerable/kept.jsonl", kept)
model, processor = build_tiny_model(root / "data/world")
model.save_pretrained(root / "models/base")
processor.save_pretrained(root / "models/base")
shutil.copytree(root / "models/base", root / "models/sweep/idk_it/s0")
write_params(
    root,
    testsets={
        "n_per_family": 3,
        "n_unanswerable": 3,
        "val_per_family": 3,
        "val_unanswerable": 2,
        "target_acc": 0.5,
        "seed": 0,
    },
    evaluate={"batch_size": 8, "max_new_tokens": 3, "device": "cpu", "dtype": "float32"},
    judge={"backend": "none"},
    sampling={"k": 3, "batch_size": 8, "max_new_tokens": 3},
    calibration={"temperatures": [0.7]},
    idk_it={"size": 12},
    preference={"size": 9},
    sft={"size": 10},
    lora={"r": 4, "alpha": 8, "modules_to_save": []},
    train={
        "batch_size": 4,
        "max_steps": 2,
        "save_steps": 100,
        "logging_steps": 1,
        "warmup_ratio": 0.0,
        "dtype": "float32",
    },
    dpo={"epochs": None, "lr": None},
    stats={"n_boot": 100},
    sweep={"budget": {"idk_it_size": 8, "preference_size": 6, "max_steps": 2}},
)
shutil.copytree(tree / "configs", root / "configs")
os.chdir(root)
run_stage_in_process(stage_args("testsets"))
run_stage_in_process(stage_args("construct", 0))


def dvc(st, **items):
    import shlex

    import yaml

    from helpers import script_argv

    spec = yaml.safe_load((tree / "dvc.yaml").read_text())["stages"][st]
    cmd = spec.get("do", spec)["cmd"].replace("${train.launcher}", "x")
    for k, v in items.items():
        cmd = cmd.replace("${item}" if k == "item" else f"${{item.{k}}}", str(v))
    run_stage_in_process(script_argv(shlex.split(cmd))[1:])


dvc("train_idk_it", item=0)
dvc("train_sft", item=0)
dvc("reference", item=0)
dvc("train_ca_dpo", item=0)
dvc("train_dpo", variant=1, seed=0)
for name in ("base", "refusal_prompt"):
    dvc("evaluate_baseline", item=name)
for m in ("sft", "idk_it", "ca_dpo"):
    dvc("evaluate", model=m, seed=0)
dvc("miniature")
dvc("sweep_threshold", cell="0.8-0.2", seed=0)
dvc("sweep_composition", weight=1.5, seed=0)
dvc("sweep_known_ratio", ratio=0.7, seed=0)
shutil.rmtree("models/sweep/idk_it/s0")
dvc("sweep_idk_it", item=0)

from inbol.params import load_params  # noqa: E402
from inbol.search import run_search  # noqa: E402

p = load_params("params.yaml")
grid = {"seed": 0, "idk_it": [{}, {"idk_it": {"known_ratio": 0.6}}], "ca_dpo": [{}, {"dpo": {"beta": 0.3}}]}
results, chosen = run_search(
    p, grid, constructed="data/constructed/s0", base_model="models/base", valsets_dir="data/valsets", work="work/search"
)
Path("metrics/search_results.json").write_text(
    json.dumps({"results": results, "chosen": chosen}, indent=1, sort_keys=True)
)

# times, and the paths of the two trees' projects
VOLATILE = {
    "seconds",
    "train_runtime",
    "train_samples_per_second",
    "train_steps_per_second",
    "samples_per_second",
    "steps_per_second",
    "start_model",
    "model_path",
}


def clean(x):
    if isinstance(x, dict):
        return {k: clean(v) for k, v in x.items() if k not in VOLATILE and not k.endswith("_seconds")}
    if isinstance(x, list):
        return [clean(v) for v in x]
    return x


SKIP = ("data/world", "models/base/", "dvclive", "models/.ckpt")  # inputs, curves, resumable checkpoints
digest = {}
for f in sorted(root.rglob("*")):
    rel = str(f.relative_to(root))
    if not f.is_file() or rel.startswith(SKIP) or "checkpoint-" in rel:
        continue
    if f.suffix == ".json":
        data = json.dumps(clean(json.loads(f.read_text())), sort_keys=True).encode()
    else:
        data = f.read_bytes()
    digest[rel] = hashlib.sha256(data).hexdigest()[:16]
(outdir / "digest.json").write_text(json.dumps(digest, indent=1, sort_keys=True))
print(len(digest), "files digested")

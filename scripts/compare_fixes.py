"""Compare the options that aim CA-DPO's refusals at what the original model does not know, on validation only.

In a copy of the repository (the checkout is left as it is), with a profile applied, the script trains IDK-IT and
CA-DPO once per option and evaluates them on the validation sets (the `evaluate_val` stages), all with the same
budget (the same set sizes, hence the same training steps), then prints one table: in-domain validation S_trust,
RefR and Acc, the refusal rate on answerable in-domain questions the original model knows (conf > --hi) and does
not know (conf <= --lo), each with a 95% bootstrap CI over questions and seeds, and S_trust's paired difference
to the baseline.  The test sets are never read: choose on this table, then report the test tables once.

Options (each on its own, and ``all`` of them together):

- ``baseline``: the parameters as they are;
- ``known_disjoint``: ``preference.known_disjoint: true`` (CA-DPO's Known questions not in IDK-IT's set);
- ``sft_weight``: ``ca_dpo.sft_weight: --sft-weight`` (an NLL term on the chosen responses, RPO);
- ``intrinsic``: ``idk_it.unknown_extrinsic_share`` and ``preference.unknown_extrinsic_share`` = --extrinsic-share
  (more of the refusals on answerable questions the original model does not know).

The disjoint draw needs enough Known questions outside IDK-IT's set; with ``--preference-size auto`` (default)
every option trains on the largest CA-DPO set up to ``preference.size`` that the disjoint draw allows for every
seed (read from the baseline's construct metrics), so that the budgets stay equal.

    python scripts/compare_fixes.py                               # the embedded default (the whole pipeline)
    python scripts/compare_fixes.py --profile configs/smoke.yaml --options baseline,known_disjoint,sft_weight
    python scripts/compare_fixes.py --dir /tmp/fixes --out compare_fixes.json

The copy (``--dir``, default a new temporary folder) keeps every option's validation predictions, construct and
training metrics under ``compare_fixes/<option>/``; run again with the same ``--dir`` to go on after an
interruption (DVC's run cache makes an option already trained free).
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import yaml

from inbol.boundary import quota
from inbol.errors import DataError, ParamError, run_stage
from inbol.evaluation.stats import bootstrap, paired_difference, values
from inbol.profiles import copy_project

ROOT = Path(__file__).resolve().parents[1]
OPTIONS = ("baseline", "known_disjoint", "sft_weight", "intrinsic", "all")
MODELS = ("idk_it", "ca_dpo")


def overrides(option: str, sft_weight: float, extrinsic_share: float) -> dict:
    """The params changes of one option (nested mappings)."""
    one = {
        "baseline": {},
        "known_disjoint": {"preference": {"known_disjoint": True}},
        "sft_weight": {"ca_dpo": {"sft_weight": sft_weight}},
        "intrinsic": {
            "idk_it": {"unknown_extrinsic_share": extrinsic_share},
            "preference": {"unknown_extrinsic_share": extrinsic_share},
        },
    }
    if option == "all":
        out: dict = {}
        for name in ("known_disjoint", "sft_weight", "intrinsic"):
            out = merge(out, one[name])
        return out
    return one[option]


def merge(base: dict, changes: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in changes.items():
        out[k] = merge(out.get(k) or {}, v) if isinstance(v, dict) else v
    return out


def dvc(copy_dir: Path, *args: str) -> None:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(copy_dir / "src"), os.environ.get("PYTHONPATH")])),
    }
    cmd = [sys.executable, "-m", "dvc", *args]
    print(f"$ dvc {' '.join(args)}  (in {copy_dir})", file=sys.stderr, flush=True)
    if subprocess.run(cmd, cwd=copy_dir, env=env).returncode != 0:
        raise DataError(f"`dvc {' '.join(args)}` failed in {copy_dir} (its output is above)")


def disjoint_size(copy_dir: Path, params: dict) -> int:
    """The largest preference.size <= params' whose Known quota fits outside IDK-IT's set for every seed."""
    size, ratio = int(params["preference"]["size"]), params["preference"]["ratio"]
    room = []
    for seed in params["seeds"]:
        m = json.loads((copy_dir / "metrics" / "construct" / f"s{seed}.json").read_text())
        room.append(int(m["preference"]["available"]["known"]) - int(m["idk_it"]["taken"]["known"]))
    fit = next((s for s in range(size, 0, -1) if quota(s, ratio)[2] <= min(room)), 0)
    if fit == 0:
        raise DataError(f"known_disjoint: no Known question is left outside IDK-IT's set (per seed: {room})")
    return fit


def matrices(pred_dir: Path, model: str, seeds, sets: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per in-domain set: (runs x questions verdict values, the questions' original confidence)."""
    rows: dict[str, dict[str, dict]] = {}
    for seed in seeds:
        for line in (pred_dir / f"{model}-s{seed}.jsonl").read_text().splitlines():
            r = json.loads(line)
            if r["set"] in sets:
                rows.setdefault(r["set"], {}).setdefault(r["id"], {})[seed] = r
    out = {}
    for name, qs in sorted(rows.items()):
        ids = sorted(qs)
        v = np.stack([values([qs[q][s]["verdict"] for q in ids]) for s in seeds])
        conf = np.array([float(qs[q][seeds[0]].get("conf_base") or 0.0) for q in ids])
        out[name] = (v, conf)
    return out


def cell(ci: dict) -> str:
    if ci.get("mean") is None:
        return "-"
    if ci.get("lo") is None:
        return f"{ci['mean']:.1f}"
    return f"{ci['mean']:.1f} [{ci['lo']:.1f}, {ci['hi']:.1f}]"


def summarise(option_dir: Path, seeds, sets: dict, hi: float, lo: float, n_boot: int, base: dict | None) -> dict:
    out = {}
    for model in MODELS:
        mats = matrices(option_dir, model, seeds, sets)
        whole = [v for v, _ in mats.values()]
        row = bootstrap(whole, ("s_trust", "refr", "acc"), n_boot=n_boot)
        answerable = [(v, c) for name, (v, c) in mats.items() if sets[name]]
        known = [v[:, c > hi + 1e-9] for v, c in answerable if (c > hi + 1e-9).any()]
        unknown = [v[:, c <= lo + 1e-9] for v, c in answerable if (c <= lo + 1e-9).any()]
        row["refr_known"] = bootstrap(known, ("refr",), n_boot=n_boot)["refr"] if known else {"mean": None}
        row["refr_unknown"] = bootstrap(unknown, ("refr",), n_boot=n_boot)["refr"] if unknown else {"mean": None}
        row["n_known"], row["n_unknown"] = sum(k.shape[1] for k in known), sum(u.shape[1] for u in unknown)
        if base is not None:
            row["d_s_trust"] = paired_difference(whole, base[model], ("s_trust",), pair_runs=True, n_boot=n_boot)[
                "s_trust"
            ]
        row["_matrices"] = whole
        out[model] = row
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="params.yaml", help="a profile of configs/ (default: params.yaml as it is)")
    ap.add_argument("--dir", help="the copy's folder (new or empty; default: a new temporary folder)")
    ap.add_argument("--options", default=",".join(OPTIONS), help=f"comma-separated, of {', '.join(OPTIONS)}")
    ap.add_argument("--sft-weight", type=float, default=1.0, help="ca_dpo.sft_weight of the sft_weight option")
    ap.add_argument("--extrinsic-share", type=float, default=0.3, help="unknown_extrinsic_share of `intrinsic`")
    ap.add_argument("--preference-size", default="auto", help="auto, or a number every option uses")
    ap.add_argument("--hi", type=float, default=0.8, help="'known': original confidence > hi")
    ap.add_argument("--lo", type=float, default=0.2, help="'unknown': original confidence <= lo")
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--out", help="also write the table's numbers as JSON here")
    args = ap.parse_args()
    options = [o.strip() for o in args.options.split(",") if o.strip()]
    bad = [o for o in options if o not in OPTIONS]
    if bad or not options:
        raise ParamError(f"--options {args.options!r}: allowed: {', '.join(OPTIONS)}")
    if args.sft_weight < 0:
        raise ParamError(f"--sft-weight = {args.sft_weight}: must be >= 0")
    if not 0.0 <= args.extrinsic_share <= 1.0:
        raise ParamError(f"--extrinsic-share = {args.extrinsic_share}: must be in [0, 1]")
    if args.preference_size != "auto" and not (args.preference_size.isdigit() and int(args.preference_size) > 0):
        raise ParamError(f"--preference-size = {args.preference_size!r}: must be auto or an integer >= 1")
    if "baseline" not in options:
        options.insert(0, "baseline")  # every difference is against it

    dest = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="inbol-fixes-"))
    saved = dest / "compare_fixes" / "params.base.yaml"
    if saved.is_file():  # a copy made by an earlier run: go on there (DVC skips what is done)
        print(f"reusing the copy in {dest} (its profile, not --profile)", file=sys.stderr)
    else:
        copy_project(ROOT, dest, args.profile)  # checks the profile; the checkout is not written
        saved.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(dest / "params.yaml", saved)
    params = yaml.safe_load(saved.read_text())
    seeds = list(params["seeds"])
    if args.preference_size == "auto":
        size = int(params["preference"]["size"])
        if any(o in ("known_disjoint", "all") for o in options):
            dvc(dest, "repro", "construct")
            try:
                size = disjoint_size(dest, params)
            except DataError as e:  # e.g. a tiny profile: IDK-IT takes every Known question
                print(f"skipping known_disjoint and all: {e}", file=sys.stderr)
                options = [o for o in options if o not in ("known_disjoint", "all")]
    else:
        size = int(args.preference_size)
    print(f"every option: preference.size = {size}, idk_it.size = {params['idk_it']['size']}", file=sys.stderr)

    results: dict[str, dict] = {}
    for option in options:
        changes = merge({"preference": {"size": size}}, overrides(option, args.sft_weight, args.extrinsic_share))
        (dest / "params.yaml").write_text(yaml.safe_dump(merge(params, changes), sort_keys=False))
        dvc(dest, "repro", "evaluate_val")
        keep = dest / "compare_fixes" / option
        shutil.rmtree(keep, ignore_errors=True)
        keep.mkdir(parents=True)
        for model in MODELS:
            for seed in seeds:
                shutil.copy2(dest / "data" / "predictions_val" / f"{model}-s{seed}.jsonl", keep)
                shutil.copy2(dest / "metrics" / "train" / f"{model}-s{seed}.json", keep / f"train-{model}-s{seed}.json")
        for seed in seeds:
            shutil.copy2(dest / "metrics" / "construct" / f"s{seed}.json", keep / f"construct-s{seed}.json")
        meta = json.loads((dest / "metrics" / "eval_val" / f"ca_dpo-s{seeds[0]}.json").read_text())["sets"]
        sets = {k: bool(v["answerable"]) for k, v in meta.items() if v.get("group") == "in_domain"}
        base = None if option == "baseline" else {m: results["baseline"][m]["_matrices"] for m in MODELS}
        results[option] = summarise(keep, seeds, sets, args.hi, args.lo, args.n_boot, base)
        for model in MODELS:
            steps = [json.loads((keep / f"train-{model}-s{s}.json").read_text())["steps"] for s in seeds]
            results[option][model]["steps"] = steps
        results[option]["changes"] = changes

    head = (
        f"| option | model | steps | S_trust | RefR | Acc | refusal, conf > {args.hi:g} | refusal, conf <= {args.lo:g} "
        "| S_trust - baseline |"
    )
    lines = [
        f"In-domain validation ({', '.join(sorted(sets))}), seeds {seeds}, preference.size {size}; "
        "mean [95% bootstrap CI over questions and seeds], percent",
        "",
        head,
        "|---" * (head.count("|") - 1) + "|",
    ]
    for option in options:
        for model in MODELS:
            r = results[option][model]
            lines.append(
                f"| {option} | {model} | {'/'.join(map(str, r['steps']))} | {cell(r['s_trust'])} | {cell(r['refr'])} "
                f"| {cell(r['acc'])} | {cell(r['refr_known'])} (n {r['n_known']}) "
                f"| {cell(r['refr_unknown'])} (n {r['n_unknown']}) | {cell(r['d_s_trust']) if 'd_s_trust' in r else '-'} |"
            )
    print("\n".join(lines))
    print(f"\n(predictions and metrics per option: {dest / 'compare_fixes'})", file=sys.stderr)
    if args.out:
        clean = {
            o: {k: ({kk: vv for kk, vv in v.items() if kk != "_matrices"} if k in MODELS else v) for k, v in r.items()}
            for o, r in results.items()
        }
        Path(args.out).write_text(json.dumps({"preference_size": size, "seeds": seeds, "options": clean}, indent=1))


if __name__ == "__main__":
    run_stage(main)

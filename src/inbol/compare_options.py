"""Comparing the options that aim CA-DPO's refusals at what the original model does not know, on validation
only (``scripts/compare_fixes.py``), in a copy of the repository.

The copy keeps its base parameters (the profile as applied) in ``compare_fixes/params.base.yaml``.  Each option
is run on the base with its own changes only: the copy's ``params.yaml`` is written back to the base before every
``dvc repro`` (the construct step that sizes the sets included) and after the last option.  An option's results
are kept in ``compare_fixes/<option>/`` with its ``changes.json``, written last: a later run with the same
changes reuses them and runs nothing for that option.  ``run`` is the command runner (``run("repro",
"evaluate_val")``; :func:`dvc_runner` in the script), so that the order of the steps can be tested without DVC.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import yaml

from .boundary import quota
from .errors import DataError
from .evaluation.stats import bootstrap, paired_difference, values

OPTIONS = ("baseline", "known_disjoint", "sft_weight", "intrinsic", "all")


def _models() -> tuple[str, ...]:
    """The models the options change, from the method registry: the model CA-DPO starts from (IDK-IT) and
    every method trained with CA-DPO's loss."""
    from .methods.registry import registry
    from .methods.spec import CA_DPO_LOSS

    specs = registry()
    ca_dpo = [n for n, s in specs.items() if s.loss == CA_DPO_LOSS]
    return (specs[ca_dpo[0]].start, *ca_dpo)


MODELS = _models()  # ("idk_it", "ca_dpo")
FOLDER = "compare_fixes"  # under the copy: the base params and one folder per option
BASE = f"{FOLDER}/params.base.yaml"
CHANGES = "changes.json"

Runner = Callable[..., None]


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


def merge(base: Mapping, changes: Mapping) -> dict:
    """``base`` with ``changes`` applied (nested mappings merge key by key); neither is modified."""
    out = copy.deepcopy(dict(base))
    for k, v in changes.items():
        out[k] = merge(out.get(k) or {}, v) if isinstance(v, Mapping) else v
    return out


# ------------------------------------------------------------------ the copy's params


def base_params(dest: Path) -> dict:
    """The copy's base params (as saved when the copy was made)."""
    return yaml.safe_load((Path(dest) / BASE).read_text())


def write_params(dest: Path, changes: Mapping | None = None) -> dict:
    """Write the copy's ``params.yaml``: the base with ``changes`` (none: the base itself); returns it."""
    params = merge(base_params(dest), changes or {})
    (Path(dest) / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return params


def disjoint_size(dest: Path, params: Mapping) -> int:
    """The largest preference.size <= params' whose Known quota fits outside IDK-IT's set for every seed (read
    from the construct metrics of the base params)."""
    size, ratio = int(params["preference"]["size"]), params["preference"]["ratio"]
    room = []
    for seed in params["seeds"]:
        m = json.loads((Path(dest) / "metrics" / "construct" / f"s{seed}.json").read_text())
        room.append(int(m["preference"]["available"]["known"]) - int(m["idk_it"]["taken"]["known"]))
    fit = next((s for s in range(size, 0, -1) if quota(s, ratio)[2] <= min(room)), 0)
    if fit == 0:
        raise DataError(f"known_disjoint: no Known question is left outside IDK-IT's set (per seed: {room})")
    return fit


def auto_size(dest: Path, run: Runner) -> int:
    """The copy's base ``preference.size`` cut to what the disjoint draw allows: the construct stage run on the
    base params (written back first, whatever option the copy was left at)."""
    params = write_params(dest)
    run("repro", "construct")
    return disjoint_size(dest, params)


# ------------------------------------------------------------------ one option


def kept_files(seeds: Sequence[int]) -> list[str]:
    """The files an option's folder holds once it is done (``changes.json`` aside)."""
    out = [f"{m}-s{s}.jsonl" for m in MODELS for s in seeds]
    out += [f"train-{m}-s{s}.json" for m in MODELS for s in seeds]
    out += [f"eval_val-{m}-s{s}.json" for m in MODELS for s in seeds]
    return out + [f"construct-s{s}.json" for s in seeds]


def option_done(keep: Path, changes: Mapping, seeds: Sequence[int]) -> bool:
    """Whether ``keep`` holds a finished run of exactly ``changes``: its changes.json matches and every kept
    file (the predictions included) exists."""
    saved = Path(keep) / CHANGES
    if not saved.is_file():
        return False
    try:
        same = json.loads(saved.read_text()) == json.loads(json.dumps(changes))
    except json.JSONDecodeError:
        return False
    return same and all((Path(keep) / f).is_file() for f in kept_files(seeds))


def run_option(dest: Path, option: str, changes: Mapping, seeds: Sequence[int], run: Runner) -> Path:
    """Train and evaluate one option in the copy (unless already done with the same changes); returns its
    folder ``compare_fixes/<option>``."""
    dest = Path(dest)
    keep = dest / FOLDER / option
    if option_done(keep, changes, seeds):
        print(f"{option}: reusing {keep} (the same changes)", file=sys.stderr)
        return keep
    write_params(dest)  # the base first: nothing of an earlier option stays
    write_params(dest, changes)
    run("repro", "evaluate_val")
    shutil.rmtree(keep, ignore_errors=True)
    keep.mkdir(parents=True)
    for model in MODELS:
        for seed in seeds:
            shutil.copy2(dest / "data" / "predictions_val" / f"{model}-s{seed}.jsonl", keep)
            shutil.copy2(dest / "metrics" / "train" / f"{model}-s{seed}.json", keep / f"train-{model}-s{seed}.json")
            shutil.copy2(
                dest / "metrics" / "eval_val" / f"{model}-s{seed}.json", keep / f"eval_val-{model}-s{seed}.json"
            )
    for seed in seeds:
        shutil.copy2(dest / "metrics" / "construct" / f"s{seed}.json", keep / f"construct-s{seed}.json")
    (keep / CHANGES).write_text(json.dumps(changes, indent=1, sort_keys=True))  # last: marks the option done
    return keep


def run_options(dest: Path, changes: Mapping[str, Mapping], seeds: Sequence[int], run: Runner) -> dict[str, Path]:
    """:func:`run_option` for every option of ``changes`` in order; the copy's params.yaml is the base again
    afterwards (also when a run fails)."""
    try:
        return {option: run_option(dest, option, c, seeds, run) for option, c in changes.items()}
    finally:
        write_params(dest)


# ------------------------------------------------------------------ the table


def in_domain_sets(keep: Path, seed: int) -> dict[str, bool]:
    """In-domain validation set -> answerable, from an option's kept evaluation metrics."""
    meta = json.loads((Path(keep) / f"eval_val-ca_dpo-s{seed}.json").read_text())["sets"]
    return {k: bool(v["answerable"]) for k, v in meta.items() if v.get("group") == "in_domain"}


def matrices(pred_dir: Path, model: str, seeds, sets: Mapping) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per in-domain set: (runs x questions verdict values, the questions' original confidence)."""
    rows: dict[str, dict[str, dict]] = {}
    for seed in seeds:
        for line in (Path(pred_dir) / f"{model}-s{seed}.jsonl").read_text().splitlines():
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


def cell(ci: Mapping) -> str:
    if ci.get("mean") is None:
        return "-"
    if ci.get("lo") is None:
        return f"{ci['mean']:.1f}"
    return f"{ci['mean']:.1f} [{ci['lo']:.1f}, {ci['hi']:.1f}]"


def summarise(option_dir: Path, seeds, sets: Mapping, hi: float, lo: float, n_boot: int, base: dict | None) -> dict:
    """Per model: S_trust, RefR, Acc, the refusal rate on answerable questions the original model knows (conf >
    hi) and does not know (conf <= lo), S_trust's paired difference to ``base`` (the baseline's matrices),
    the training steps per seed, and ``_matrices`` (for the differences)."""
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
        row["steps"] = [json.loads((Path(option_dir) / f"train-{model}-s{s}.json").read_text())["steps"] for s in seeds]
        row["_matrices"] = whole
        out[model] = row
    return out


def table(results: Mapping, sets: Mapping, seeds, size: int, hi: float, lo: float) -> str:
    """The markdown table of :func:`summarise`'s results per option (baseline first)."""
    head = (
        f"| option | model | steps | S_trust | RefR | Acc | refusal, conf > {hi:g} | refusal, conf <= {lo:g} "
        "| S_trust - baseline |"
    )
    lines = [
        f"In-domain validation ({', '.join(sorted(sets))}), seeds {list(seeds)}, preference.size {size}; "
        "mean [95% bootstrap CI over questions and seeds], percent",
        "",
        head,
        "|---" * (head.count("|") - 1) + "|",
    ]
    for option, res in results.items():
        for model in MODELS:
            r = res[model]
            lines.append(
                f"| {option} | {model} | {'/'.join(map(str, r['steps']))} | {cell(r['s_trust'])} | {cell(r['refr'])} "
                f"| {cell(r['acc'])} | {cell(r['refr_known'])} (n {r['n_known']}) "
                f"| {cell(r['refr_unknown'])} (n {r['n_unknown']}) | {cell(r['d_s_trust']) if 'd_s_trust' in r else '-'} |"
            )
    return "\n".join(lines)


__all__ = [
    "BASE",
    "MODELS",
    "OPTIONS",
    "auto_size",
    "base_params",
    "disjoint_size",
    "merge",
    "option_done",
    "overrides",
    "run_option",
    "run_options",
    "summarise",
    "table",
    "write_params",
]

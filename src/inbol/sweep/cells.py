"""Sweep cells: their names and command-line coordinates, their summaries, and the figure rows built
from them (Figure 10 heatmap, Figure 11 lines, and Figure 10 from DVC experiments).  Pure: nothing here
trains or loads a model (that is :mod:`inbol.sweep.run`)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError, ParamError
from ..io import read_json
from ..records import read_predictions

KINDS = ("threshold", "known_ratio", "composition")


# --------------------------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------------------------


def _num(v: float) -> str:
    return f"{float(v):g}"


def cell_name(kind: str, *values: float) -> str:
    """The folder name of a cell: ``0.8-0.2`` (threshold, as in ``sweep.cells``), ``r0.75`` (known_ratio), ``w2``
    (composition)."""
    if kind == "threshold":
        return f"{_num(values[0])}-{_num(values[1])}"
    if kind == "known_ratio":
        return f"r{_num(values[0])}"
    if kind == "composition":
        return f"w{_num(values[0])}"
    raise ParamError(f"sweep kind = {kind!r}: must be one of {', '.join(KINDS)}")


def parse_cell_args(argv: Sequence[str]) -> tuple[str, tuple[float, ...]]:
    """``threshold DELTA_K-DELTA_UK | known_ratio R | composition W`` (the cell's coordinates) from the command
    line of stages/sweep_cell.py."""
    usage = "usage: python stages/sweep_cell.py threshold DELTA_K-DELTA_UK | known_ratio R | composition W"
    if not argv or argv[0] not in KINDS:
        raise ParamError(f"sweep kind = {argv[0] if argv else None!r}: must be one of {', '.join(KINDS)} ({usage})")
    kind, rest = argv[0], list(argv[1:])
    if kind == "threshold" and len(rest) == 1:
        rest = rest[0].split("-")
    need = 2 if kind == "threshold" else 1
    if len(rest) != need:
        raise ParamError(f"sweep {kind} cell = {list(argv[1:])!r}: needs {need} number(s) ({usage})")
    try:
        values = tuple(float(v) for v in rest)
    except ValueError:
        raise ParamError(f"sweep {kind} cell = {list(argv[1:])!r}: must be numbers ({usage})") from None
    return kind, values


def cell_valid(kind: str, values: Sequence[float]) -> bool:
    """False for the threshold pairs the paper leaves out (delta_k <= delta_uk)."""
    return not (kind == "threshold" and values[0] <= values[1] + 1e-12)


def cell_result(
    kind: str,
    values: Sequence[float],
    metrics: Mapping | None,
    *,
    train: Mapping | None = None,
    data: Mapping | None = None,
) -> dict:
    """The JSON summary of one cell: coordinates, S_trust/Acc/RefR in domain and out of domain."""
    coords = (
        dict(zip(("delta_k", "delta_uk"), values))
        if kind == "threshold"
        else ({"known_ratio": values[0]} if kind == "known_ratio" else {"known_weight": values[0]})
    )
    out: dict = {"kind": kind, "cell": cell_name(kind, *values), **coords, "valid": metrics is not None}
    if metrics is None:
        out["reason"] = "delta_k <= delta_uk (the paper's grid keeps delta_k > delta_uk)"
        return out
    for scope, key in (("in_domain", "overall"), ("ood", "ood")):  # the tables' definitions
        m = metrics.get(key) or {}
        out[scope] = {k: m.get(k) for k in ("acc", "refr", "s_trust", "answered_acc", "n")}
    if data is not None:
        out["data"] = dict(data)
    if train is not None:
        out["train"] = {k: train.get(k) for k in ("steps", "seconds", "final_loss", "n_examples") if k in train}
    return out


def read_cells(folder: str | Path) -> list[dict]:
    """The seed-averaged summary of every cell under ``folder`` (``<cell>/s<seed>/cell.json``, sorted by cell
    name): per scope the mean of each metric over the cell's seeds, and ``seeds``; a DataError when a cell
    file is unreadable."""
    folder = Path(folder)
    by_cell: dict[str, list[dict]] = {}
    for path in folder.glob("*/s*/cell.json"):
        seed = path.parent.name[1:]
        if seed.isdigit():
            by_cell.setdefault(path.parent.parent.name, []).append((int(seed), read_json(path)))
    return [
        mean_over_seeds([run for _, run in sorted(runs, key=lambda t: t[0])]) for _, runs in sorted(by_cell.items())
    ]


def mean_over_seeds(runs: Sequence[Mapping]) -> dict:
    """One cell's summary with each scope's metrics averaged over its seed runs (in seed order; None stays
    None)."""
    out = {k: v for k, v in runs[0].items() if k not in ("in_domain", "ood", "seed", "train", "data")}
    out["seeds"] = [r.get("seed") for r in runs]
    if not all(r.get("valid") for r in runs):
        out["valid"] = False
        return out
    for scope in ("in_domain", "ood"):
        keys = runs[0][scope]
        out[scope] = {}
        for k in keys:
            vals = [r[scope][k] for r in runs if r[scope].get(k) is not None]
            out[scope][k] = sum(vals) / len(vals) if vals else None
        out[scope]["per_seed_s_trust"] = [r[scope].get("s_trust") for r in runs]
    return out


def mean_s_trust(cell: Mapping) -> float | None:
    """The mean of in-domain and OOD S_trust (the paper's Figure 10 value before normalisation)."""
    vals = [(cell.get(s) or {}).get("s_trust") for s in ("in_domain", "ood")]
    vals = [v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return sum(vals) / len(vals) if vals else None


def normalise(values: Sequence[float | None]) -> list[float | None]:
    """Min-max normalisation to [0, 1] (all equal -> 1.0); None stays None."""
    present = [v for v in values if v is not None]
    if not present:
        return [None for _ in values]
    lo, hi = min(present), max(present)
    return [None if v is None else (1.0 if hi == lo else (v - lo) / (hi - lo)) for v in values]


def parse_threshold_cell(text: str) -> tuple[float, float]:
    """``"0.8-0.2"`` (a sweep.cells entry) -> (delta_k, delta_uk)."""
    k, u = text.split("-")
    return float(k), float(u)


def heatmap_rows(cells: Iterable[Mapping], grid: Sequence[str]) -> list[dict]:
    """One row per grid cell (``sweep.cells``, "delta_k-delta_uk"): raw S_trust (in domain, OOD, mean) and the
    normalised mean.  Cells missing from ``cells`` (not run yet) are an error: the figure must cover the grid."""
    by = {
        (round(c["delta_k"], 6), round(c["delta_uk"], 6)): c
        for c in cells
        if c.get("kind") == "threshold" and c.get("valid")
    }
    rows = []
    for k, u in sorted(parse_threshold_cell(x) for x in grid):
        c = by.get((round(k, 6), round(u, 6)))
        if c is None:
            raise DataError(
                f"sweep cell {cell_name('threshold', k, u)}: missing (run `dvc repro` for the sweep_threshold cells)"
            )
        rows.append(
            {
                "delta_k": k,
                "delta_uk": u,
                "cell": cell_name("threshold", k, u),
                "s_trust_in_domain": c["in_domain"]["s_trust"],
                "s_trust_ood": c["ood"]["s_trust"],
                "s_trust_mean": mean_s_trust(c),
                "seeds": len(c.get("seeds", [])),
            }
        )
    for r, n in zip(rows, normalise([r["s_trust_mean"] for r in rows])):
        r["normalized"] = n
    return rows


def cell_values(folder: str | Path, cell: str, valsets: Mapping) -> np.ndarray | dict:
    """Per validation set the (seeds x questions) response values of one cell's runs (``<cell>/s<seed>/
    predictions.jsonl``, seeds in order)."""
    from ..evaluation.stats import values

    runs = sorted(
        (int(p.parent.name[1:]), p)
        for p in Path(folder, cell).glob("s*/predictions.jsonl")
        if p.parent.name[1:].isdigit()
    )
    if not runs:
        raise DataError(f"{Path(folder, cell)}: no predictions of any seed (run `dvc repro`)")
    out: dict[str, list] = {n: [] for n in valsets}
    for _, path in runs:
        preds = {(p["set"], p["id"]): p["verdict"] for p in read_predictions(path)}
        for n, ts in valsets.items():
            out[n].append(values([preds[(n, r["id"])] for r in ts.records]))
    return {n: np.stack(v) for n, v in out.items()}


def figure_value(mats: Mapping[str, np.ndarray], valsets: Mapping) -> float:
    """A sweep cell's Figure 10/11 value: the mean of its in-domain S_trust (pooled) and its OOD S_trust
    (the mean over the answerable OOD sets), the definitions of the tables."""
    from ..evaluation.stats import group_metric

    ind = [mats[n] for n, ts in valsets.items() if ts.group == "in_domain"]
    ood = [mats[n] for n, ts in valsets.items() if ts.group == "ood" and ts.answerable]
    parts = ([group_metric(ind, "s_trust", "pooled")] if ind else []) + (
        [group_metric(ood, "s_trust", "mean")] if ood else []
    )
    return float(np.mean(parts))


def with_intervals(
    rows: list[dict], folder: str | Path, valsets: Mapping, *, n_boot: int, level: float, seed: int
) -> list[dict]:
    """``rows`` (each with a ``cell``) with the 95% bootstrap interval of the figure value (over questions
    and seeds) and, against the best cell, the interval of best - cell (same questions, seeds paired) and
    ``indistinguishable_from_best`` (that interval contains 0)."""
    from ..evaluation.stats import bootstrap_stat

    names = list(valsets)
    mats = {r["cell"]: cell_values(folder, r["cell"], valsets) for r in rows}

    def stat(sets):
        return figure_value(dict(zip(names, sets)), valsets)

    best_row = max(rows, key=lambda r: figure_value(mats[r["cell"]], valsets))
    best = [mats[best_row["cell"]][n] for n in names]
    for r in rows:
        own = [mats[r["cell"]][n] for n in names]
        ci = bootstrap_stat(own, stat, n_boot=n_boot, level=level, seed=seed)
        gap = bootstrap_stat(
            best, stat, other=own, pair_runs=own[0].shape[0] == best[0].shape[0], n_boot=n_boot, level=level, seed=seed
        )
        r.update(
            value=ci["mean"],
            value_lo=ci["lo"],
            value_hi=ci["hi"],
            gap_to_best=gap["mean"],
            gap_lo=gap["lo"],
            gap_hi=gap["hi"],
            best=r["cell"] == best_row["cell"],
            indistinguishable_from_best=r["cell"] == best_row["cell"] or (gap["lo"] is not None and gap["lo"] <= 0),
        )
    return rows


def best(rows: Sequence[Mapping], key: str = "s_trust_mean") -> Mapping | None:
    scored = [r for r in rows if r.get(key) is not None]
    return max(scored, key=lambda r: r[key]) if scored else None


def upper_right_share(rows: Sequence[Mapping], key: str = "normalized") -> dict:
    """The paper's reading of Figure 10: is the upper-right region (delta_k >= 0.6, delta_uk <= 0.4) better
    than the rest?  Mean normalised score inside and outside, and where the best cell lies."""
    inside = [r[key] for r in rows if r["delta_k"] >= 0.6 - 1e-9 and r["delta_uk"] <= 0.4 + 1e-9 and r[key] is not None]
    outside = [
        r[key] for r in rows if not (r["delta_k"] >= 0.6 - 1e-9 and r["delta_uk"] <= 0.4 + 1e-9) and r[key] is not None
    ]
    b = best(rows)
    return {
        "upper_right_mean": sum(inside) / len(inside) if inside else None,
        "rest_mean": sum(outside) / len(outside) if outside else None,
        "best": None
        if b is None
        else {"delta_k": b["delta_k"], "delta_uk": b["delta_uk"], "s_trust_mean": b["s_trust_mean"]},
        "best_in_upper_right": None if b is None else bool(b["delta_k"] >= 0.6 - 1e-9 and b["delta_uk"] <= 0.4 + 1e-9),
    }


def line_rows(cells: Iterable[Mapping], kind: str, values: Sequence[float]) -> list[dict]:
    """Figure 11 rows (one per grid value): S_trust, Acc and RefR in domain and out of domain."""
    key = "known_ratio" if kind == "known_ratio" else "known_weight"
    by = {round(c[key], 6): c for c in cells if c.get("kind") == kind and c.get("valid")}
    rows = []
    for v in sorted(values):
        c = by.get(round(v, 6))
        if c is None:
            raise DataError(f"sweep cell {cell_name(kind, v)}: missing (run `dvc repro`)")
        row = {
            key: v,
            "label": f"1:1:{_num(v)}" if kind == "composition" else _num(v),
            "cell": cell_name(kind, v),
            "seeds": len(c.get("seeds", [])),
        }
        for scope in ("in_domain", "ood"):
            for m in ("s_trust", "acc", "refr"):
                row[f"{m}_{scope}"] = c[scope][m]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# Figure 10 from DVC experiments (the queue alternative to the matrix cells)
# --------------------------------------------------------------------------------------------

SUMMARY = "metrics/summary.json"  # the headline metrics: the only file `dvc exp show` reads (dvc.yaml `metrics:`)
EXP_METRICS = re.compile(r"^metrics/eval/idk_it-s\d+\.json:(overall|ood)\.s_trust$")


def _lookup(record: Mapping, name: str, file: str):
    for key in (f"{file}:{name}", name):
        if key in record and record[key] is not None:
            return record[key]
    return None


def _seed_mean(record: Mapping, scope: str) -> float | None:
    vals = [
        float(v) for k, v in record.items() if v is not None and (m := EXP_METRICS.match(k)) and m.group(1) == scope
    ]
    return sum(vals) / len(vals) if vals else None


def _idk_it_s_trust(record: Mapping, scope: str, eval_scope: str) -> float | None:
    value = _lookup(record, f"idk_it.{scope}.s_trust", SUMMARY)
    return float(value) if value is not None else _seed_mean(record, eval_scope)


def exp_rows(records: Iterable[Mapping]) -> list[dict]:
    """Heatmap rows from ``dvc.api.exp_show()`` records: each experiment's top-level (delta_k, delta_uk)
    and its IDK-IT models' in-domain and OOD S_trust, the mean over the seeds (``metrics/summary.json``'s
    ``idk_it.<scope>.s_trust``; else ``metrics/eval/idk_it-s<seed>.json`` where those are declared metrics).  Experiments without those values (queued, failed) are left out; for a threshold pair run
    twice, the first record wins (exp_show lists the workspace, then the newest first).  Rows are normalised
    like :func:`heatmap_rows`."""
    seen: dict[tuple[float, float], dict] = {}
    for r in records:
        k, u = _lookup(r, "delta_k", "params.yaml"), _lookup(r, "delta_uk", "params.yaml")
        s_in, s_ood = (
            _idk_it_s_trust(r, scope, fallback) for scope, fallback in (("in_domain", "overall"), ("ood", "ood"))
        )
        if None in (k, u, s_in, s_ood) or not cell_valid("threshold", (float(k), float(u))):
            continue
        key = (round(float(k), 6), round(float(u), 6))
        if key not in seen:
            name = r.get("Experiment") or r.get("rev")
            seen[key] = {
                "delta_k": float(k),
                "delta_uk": float(u),
                "s_trust_in_domain": s_in,
                "s_trust_ood": s_ood,
                "s_trust_mean": (s_in + s_ood) / 2,
                "experiment": name,
            }
    rows = sorted(seen.values(), key=lambda r: (r["delta_k"], r["delta_uk"]))
    for r, n in zip(rows, normalise([r["s_trust_mean"] for r in rows])):
        r["normalized"] = n
    return rows


__all__ = [
    "KINDS",
    "parse_threshold_cell",
    "cell_values",
    "figure_value",
    "with_intervals",
    "cell_name",
    "parse_cell_args",
    "cell_valid",
    "cell_result",
    "read_cells",
    "mean_over_seeds",
    "mean_s_trust",
    "normalise",
    "heatmap_rows",
    "exp_rows",
    "best",
    "upper_right_share",
    "line_rows",
]

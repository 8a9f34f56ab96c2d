"""Sweeps of the paper's appendix G: confidence thresholds (Figure 10) and data composition (Figure 11).

Each sweep cell is one DVC ``matrix:`` stage (``stages/sweep_cell.py``) that builds its training set,
trains and evaluates in domain and out of domain, and writes ``data/sweep/<kind>/<cell>/``:

- ``threshold`` cells (Figure 10): IDK-IT data at the cell's (delta_k, delta_uk), IDK-IT from the original
  model.  The grid is ``sweep.delta_k`` x ``sweep.delta_uk``; DVC's matrix makes every pair, and a cell with
  delta_k <= delta_uk (which the paper leaves out) writes ``{"valid": false}`` without training.
- ``known_ratio`` cells (Figure 11a): IDK-IT data at ``sweep.thresholds`` with the cell's known ratio.
- ``composition`` cells (Figure 11b): CA-DPO preferences at ``sweep.thresholds`` with Unknown:Mixed:Known
  = 1:1:w (the paper fixes Unknown:Mixed at 1:1 and varies Known), trained from the sweep's own IDK-IT
  model (``models/sweep/idk_it``, stage ``sweep_idk_it``).

Cells never read the top-level ``delta_k``/``delta_uk`` nor the grid lists, so `dvc exp run -S
delta_k=0.7` re-runs no cell and a changed grid only adds or removes cells.  Cells train with their own,
smaller budget (``sweep.budget``).  The ``heatmap`` and ``figure11`` stages read the cells back.
"""
from __future__ import annotations

import dataclasses
import math
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

from .config import DataError, ParamError, check, check_range
from .io import read_json

KINDS = ("threshold", "known_ratio", "composition")
ROOT = Path("data/sweep")
GRID_VALUES = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


# --------------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SweepBudget:
    """``sweep.budget``: the cells' own training budget (``null`` = inherit the main stages' value)."""
    idk_it_size: int | None = None       # IDK-IT instructions per cell (idk_it.size when null)
    preference_size: int | None = None   # CA-DPO questions per cell (preference.size when null)
    epochs: float | None = None          # train.epochs / dpo.epochs when null
    max_steps: int | None = None
    lr: float | None = None              # train.lr / dpo.lr when null
    groups: tuple[str, ...] = ("in_domain", "ood")   # test-set groups each cell is evaluated on

    def validate(self, prefix: str = "sweep.budget") -> None:
        for k in ("idk_it_size", "preference_size", "max_steps"):
            v = getattr(self, k)
            if v is not None:
                check(v >= 1, f"{prefix}.{k}", v, "must be null or an integer >= 1")
        if self.epochs is not None:
            check_range(f"{prefix}.epochs", self.epochs, 0.0, None, lo_open=True)
        if self.lr is not None:
            check_range(f"{prefix}.lr", self.lr, 0.0, 1.0, lo_open=True)
        allowed = ("in_domain", "ood", "extra")
        check(len(self.groups) >= 1 and all(g in allowed for g in self.groups), f"{prefix}.groups",
              list(self.groups), f"must be a non-empty list of {', '.join(allowed)}")

    def train(self, train):
        """``train`` (TrainParams) with this budget's overrides."""
        changes = {k: getattr(self, k) for k in ("epochs", "max_steps", "lr") if getattr(self, k) is not None}
        return dataclasses.replace(train, **changes)

    def dpo(self, dpo):
        """``dpo`` (DPOParams) with this budget's lr/epochs overrides."""
        changes = {k: getattr(self, k) for k in ("epochs", "lr") if getattr(self, k) is not None}
        return dataclasses.replace(dpo, **changes)


@dataclass(frozen=True)
class SweepThresholds:
    """``sweep.thresholds``: the (delta_k, delta_uk) of the Figure 11 sweeps (paper: 0.8 / 0.2)."""
    delta_k: float = 0.8
    delta_uk: float = 0.2

    def validate(self, prefix: str = "sweep.thresholds") -> None:
        check_range(f"{prefix}.delta_k", self.delta_k, 0.0, 1.0)
        check_range(f"{prefix}.delta_uk", self.delta_uk, 0.0, 1.0)
        check(self.delta_k > self.delta_uk, f"{prefix}.delta_k", self.delta_k,
              f"must be greater than {prefix}.delta_uk ({self.delta_uk})")


def _grid(prefix: str, values: Sequence[float], lo: float, hi: float, lo_open=False, hi_open=False) -> None:
    check(len(values) >= 1, prefix, list(values), "must be a non-empty list")
    check(len(set(values)) == len(values), prefix, list(values), "must not repeat a value")
    for v in values:
        check_range(prefix, v, lo, hi, lo_open=lo_open, hi_open=hi_open)


@dataclass(frozen=True)
class SweepGrid:
    """``sweep.{delta_k, delta_uk, known_ratio, known_weight}``: the grids (read by DVC's ``matrix:`` and by
    the figure stages, never by the cells)."""
    delta_k: tuple[float, ...] = GRID_VALUES
    delta_uk: tuple[float, ...] = GRID_VALUES
    known_ratio: tuple[float, ...] = (0.65, 0.7, 0.75, 0.8, 0.85, 0.9)
    known_weight: tuple[float, ...] = (1.0, 1.5, 2.0)

    def validate(self, prefix: str = "sweep") -> None:
        _grid(f"{prefix}.delta_k", self.delta_k, 0.0, 1.0)
        _grid(f"{prefix}.delta_uk", self.delta_uk, 0.0, 1.0)
        check(any(k > u for k in self.delta_k for u in self.delta_uk), f"{prefix}.delta_k", list(self.delta_k),
              f"must hold a value above some value of {prefix}.delta_uk (cells need delta_k > delta_uk)")
        _grid(f"{prefix}.known_ratio", self.known_ratio, 0.0, 1.0, lo_open=True, hi_open=True)
        _grid(f"{prefix}.known_weight", self.known_weight, 0.0, 100.0, lo_open=True)


def load_grid(params: Mapping) -> SweepGrid:
    """The grid keys of ``params['sweep']`` as a validated :class:`SweepGrid` (other keys ignored)."""
    from .config import from_dict
    sweep = params.get("sweep")
    if not isinstance(sweep, dict):
        raise ParamError(f"sweep = {sweep!r}: must be a mapping (see params.yaml)")
    names = {f.name for f in dataclasses.fields(SweepGrid)}
    return from_dict(SweepGrid, {k: v for k, v in sweep.items() if k in names}, "sweep")


# --------------------------------------------------------------------------------------------
# cells
# --------------------------------------------------------------------------------------------

def _num(v: float) -> str:
    return f"{float(v):g}"


def cell_name(kind: str, *values: float) -> str:
    """The folder name of a cell: ``k0.8_uk0.2`` (threshold), ``r0.75`` (known_ratio), ``w2`` (composition)."""
    if kind == "threshold":
        return f"k{_num(values[0])}_uk{_num(values[1])}"
    if kind == "known_ratio":
        return f"r{_num(values[0])}"
    if kind == "composition":
        return f"w{_num(values[0])}"
    raise ParamError(f"sweep kind = {kind!r}: must be one of {', '.join(KINDS)}")


def parse_cell_args(argv: Sequence[str]) -> tuple[str, tuple[float, ...]]:
    """``<kind> <value> [<value>]`` from the command line of stages/sweep_cell.py."""
    usage = "usage: python stages/sweep_cell.py threshold DELTA_K DELTA_UK | known_ratio R | composition W"
    if not argv or argv[0] not in KINDS:
        raise ParamError(f"sweep kind = {argv[0] if argv else None!r}: must be one of {', '.join(KINDS)} ({usage})")
    kind, rest = argv[0], argv[1:]
    need = 2 if kind == "threshold" else 1
    if len(rest) != need:
        raise ParamError(f"sweep {kind} cell = {list(rest)!r}: needs {need} number(s) ({usage})")
    try:
        values = tuple(float(v) for v in rest)
    except ValueError:
        raise ParamError(f"sweep {kind} cell = {list(rest)!r}: must be numbers ({usage})") from None
    if kind == "threshold":
        for name, v in zip(("delta_k", "delta_uk"), values):
            check_range(f"sweep.{name} cell value", v, 0.0, 1.0)
    elif kind == "known_ratio":
        check_range("sweep.known_ratio cell value", values[0], 0.0, 1.0, lo_open=True, hi_open=True)
    else:
        check_range("sweep.known_weight cell value", values[0], 0.0, 100.0, lo_open=True)
    return kind, values


def cell_valid(kind: str, values: Sequence[float]) -> bool:
    """False for the threshold pairs the paper leaves out (delta_k <= delta_uk)."""
    return not (kind == "threshold" and values[0] <= values[1] + 1e-12)


def cell_result(kind: str, values: Sequence[float], metrics: Mapping | None, *, train: Mapping | None = None,
                data: Mapping | None = None) -> dict:
    """The JSON summary of one cell: coordinates, S_trust/Acc/RefR in domain and out of domain."""
    coords = dict(zip(("delta_k", "delta_uk"), values)) if kind == "threshold" else \
        ({"known_ratio": values[0]} if kind == "known_ratio" else {"known_weight": values[0]})
    out: dict = {"kind": kind, "cell": cell_name(kind, *values), **coords, "valid": metrics is not None}
    if metrics is None:
        out["reason"] = "delta_k <= delta_uk (the paper's grid keeps delta_k > delta_uk)"
        return out
    for scope, key in (("in_domain", "overall"), ("ood", "ood")):
        m = metrics.get(key) or {}
        out[scope] = {k: m.get(k) for k in ("acc", "refr", "s_trust", "answered_acc", "n")}
    if data is not None:
        out["data"] = dict(data)
    if train is not None:
        out["train"] = {k: train.get(k) for k in ("steps", "seconds", "final_loss", "n_examples") if k in train}
    return out


def read_cells(folder: str | Path) -> list[dict]:
    """Every ``<folder>/*/cell.json`` (sorted by cell name); a DataError when a cell file is unreadable."""
    folder = Path(folder)
    out = []
    for path in sorted(folder.glob("*/cell.json")):
        try:
            out.append(read_json(path))
        except ValueError as e:
            raise DataError(f"{path}: not a cell summary ({e})") from None
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


def heatmap_rows(cells: Iterable[Mapping], delta_k: Sequence[float], delta_uk: Sequence[float]) -> list[dict]:
    """One row per grid pair with delta_k > delta_uk: raw S_trust (in domain, OOD, mean) and the normalised
    mean.  Cells missing from ``cells`` (not run yet) are an error: the figure must cover the grid."""
    by = {(round(c["delta_k"], 6), round(c["delta_uk"], 6)): c for c in cells
          if c.get("kind") == "threshold" and c.get("valid")}
    rows = []
    for k in sorted(delta_k):
        for u in sorted(delta_uk):
            if not cell_valid("threshold", (k, u)):
                continue
            c = by.get((round(k, 6), round(u, 6)))
            if c is None:
                raise DataError(f"sweep cell {cell_name('threshold', k, u)}: missing under {ROOT / 'threshold'} "
                                f"(run `dvc repro` for the sweep_threshold cells)")
            rows.append({"delta_k": k, "delta_uk": u, "s_trust_in_domain": c["in_domain"]["s_trust"],
                         "s_trust_ood": c["ood"]["s_trust"], "s_trust_mean": mean_s_trust(c)})
    for r, n in zip(rows, normalise([r["s_trust_mean"] for r in rows])):
        r["normalized"] = n
    return rows


def best(rows: Sequence[Mapping], key: str = "s_trust_mean") -> Mapping | None:
    scored = [r for r in rows if r.get(key) is not None]
    return max(scored, key=lambda r: r[key]) if scored else None


def upper_right_share(rows: Sequence[Mapping], key: str = "normalized") -> dict:
    """The paper's reading of Figure 10: is the upper-right region (delta_k >= 0.6, delta_uk <= 0.4) better
    than the rest?  Mean normalised score inside and outside, and where the best cell lies."""
    inside = [r[key] for r in rows if r["delta_k"] >= 0.6 - 1e-9 and r["delta_uk"] <= 0.4 + 1e-9 and r[key] is not None]
    outside = [r[key] for r in rows if not (r["delta_k"] >= 0.6 - 1e-9 and r["delta_uk"] <= 0.4 + 1e-9)
               and r[key] is not None]
    b = best(rows)
    return {"upper_right_mean": sum(inside) / len(inside) if inside else None,
            "rest_mean": sum(outside) / len(outside) if outside else None,
            "best": None if b is None else {"delta_k": b["delta_k"], "delta_uk": b["delta_uk"],
                                            "s_trust_mean": b["s_trust_mean"]},
            "best_in_upper_right": None if b is None else bool(b["delta_k"] >= 0.6 - 1e-9 and b["delta_uk"] <= 0.4 + 1e-9)}


def line_rows(cells: Iterable[Mapping], kind: str, values: Sequence[float]) -> list[dict]:
    """Figure 11 rows (one per grid value): S_trust, Acc and RefR in domain and out of domain."""
    key = "known_ratio" if kind == "known_ratio" else "known_weight"
    by = {round(c[key], 6): c for c in cells if c.get("kind") == kind and c.get("valid")}
    rows = []
    for v in sorted(values):
        c = by.get(round(v, 6))
        if c is None:
            raise DataError(f"sweep cell {cell_name(kind, v)}: missing under {ROOT / kind} (run `dvc repro`)")
        row = {key: v, "label": f"1:1:{_num(v)}" if kind == "composition" else _num(v)}
        for scope in ("in_domain", "ood"):
            for m in ("s_trust", "acc", "refr"):
                row[f"{m}_{scope}"] = c[scope][m]
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# running one cell
# --------------------------------------------------------------------------------------------

def cell_data(kind: str, values: Sequence[float], restructured: list[dict], unanswerable: list[dict], *,
              thresholds: SweepThresholds | None, budget: SweepBudget, idk_it, preference,
              refusal_templates: int | None = None) -> tuple[list[dict], dict]:
    """The training records of a cell (IDK-IT instructions or CA-DPO preferences) and their report;
    ``thresholds`` are those of the Figure 11 cells (unused by threshold cells)."""
    from .boundary import assemble_pool
    if kind == "threshold":
        dk, du = values
    else:
        dk, du = thresholds.delta_k, thresholds.delta_uk
    pool = assemble_pool(restructured, unanswerable, dk, du, refusal_templates=refusal_templates)
    records, report = _cell_set(kind, values, pool, budget, idk_it, preference)
    if not records:
        raise DataError(f"sweep cell {cell_name(kind, *values)}: the pool gives no training records at "
                        f"delta_k = {dk:g}, delta_uk = {du:g} ({report})")
    return records, report


def _cell_set(kind, values, pool, budget, idk_it, preference):
    from .boundary import idk_it_set, preference_set
    if kind == "composition":
        cfg = dataclasses.replace(preference, ratio=(1.0, 1.0, float(values[0])),
                                  size=budget.preference_size or preference.size)
        cfg.validate("preference")
        return preference_set(pool, cfg)
    cfg = dataclasses.replace(idk_it, size=budget.idk_it_size or idk_it.size)
    if kind == "known_ratio":
        cfg = dataclasses.replace(cfg, known_ratio=float(values[0]))
    cfg.validate("idk_it")
    return idk_it_set(pool, cfg)


def run_cell(kind: str, values: Sequence[float], out_dir: str | Path, *, records: list[dict], start_model: str | Path,
             work_dir: str | Path, lora, train, dpo, budget: SweepBudget, evaluate_cfg, judge_cfg,
             testsets_dir: str | Path = "data/testsets", data_report: Mapping | None = None) -> dict:
    """Train one cell's model from ``start_model`` on ``records``, evaluate it, and write ``out_dir``
    (cell.json, predictions.jsonl, adapter/).  Returns the cell summary."""
    from .evaluation import evaluate_model, hf_answer_fn, load_testsets
    from .io import write_json, write_jsonl
    from .judge import make_semantic_judge
    from .models import load_base
    from .training import train_preference, train_sft

    testsets = {n: ts for n, ts in load_testsets(testsets_dir).items() if ts.group in budget.groups}
    if not testsets:
        raise DataError(f"{testsets_dir}: no test set in groups {list(budget.groups)}")
    semantic = make_semantic_judge(judge_cfg)
    work_dir, out_dir = Path(work_dir), Path(out_dir)
    data_path = work_dir / "data.jsonl"
    model_dir = work_dir / "model"
    work_dir.mkdir(parents=True, exist_ok=True)
    write_jsonl(data_path, records)
    name = f"sweep_{kind}_{cell_name(kind, *values)}"
    if kind == "composition":
        tm = train_preference(data_path, start_model, model_dir, kind="ca_dpo", lora=lora, train=budget.train(train),
                              dpo=budget.dpo(dpo), work_dir=work_dir / "ckpt", name=name)
    else:
        tm = train_sft(data_path, start_model, model_dir, lora=lora, train=budget.train(train),
                       work_dir=work_dir / "ckpt", name=name)
    model, processor = load_base(model_dir, evaluate_cfg.device, evaluate_cfg.dtype)
    preds, metrics = evaluate_model(hf_answer_fn(model, processor, evaluate_cfg), testsets, semantic,
                                    lenient=judge_cfg.lenient, model=name)
    summary = cell_result(kind, values, metrics, train=tm, data=data_report)
    write_jsonl(out_dir / "predictions.jsonl", preds)
    shutil.copytree(model_dir / "adapter", out_dir / "adapter")
    write_json(out_dir / "cell.json", summary)
    shutil.rmtree(work_dir, ignore_errors=True)
    return summary


# --------------------------------------------------------------------------------------------
# Figure 10 from DVC experiments (the queue alternative to the matrix cells)
# --------------------------------------------------------------------------------------------

EXP_METRICS = "metrics/eval/idk_it.json"


def _lookup(record: Mapping, name: str, file: str):
    for key in (f"{file}:{name}", name):
        if key in record and record[key] is not None:
            return record[key]
    return None


def exp_rows(records: Iterable[Mapping], metrics_file: str = EXP_METRICS) -> list[dict]:
    """Heatmap rows from ``dvc.api.exp_show()`` records: each experiment's top-level (delta_k, delta_uk)
    and its IDK-IT model's in-domain and OOD S_trust (``metrics_file``).  Experiments without those
    values (queued, failed) are left out; for a threshold pair run twice, the first record wins (exp_show
    lists the workspace, then the newest first).  Rows are normalised like :func:`heatmap_rows`."""
    seen: dict[tuple[float, float], dict] = {}
    for r in records:
        k, u = _lookup(r, "delta_k", "params.yaml"), _lookup(r, "delta_uk", "params.yaml")
        s_in, s_ood = _lookup(r, "overall.s_trust", metrics_file), _lookup(r, "ood.s_trust", metrics_file)
        if None in (k, u, s_in, s_ood) or not cell_valid("threshold", (float(k), float(u))):
            continue
        key = (round(float(k), 6), round(float(u), 6))
        if key not in seen:
            name = r.get("Experiment") or r.get("rev")
            seen[key] = {"delta_k": float(k), "delta_uk": float(u), "s_trust_in_domain": float(s_in),
                         "s_trust_ood": float(s_ood), "s_trust_mean": (float(s_in) + float(s_ood)) / 2,
                         "experiment": name}
    rows = sorted(seen.values(), key=lambda r: (r["delta_k"], r["delta_uk"]))
    for r, n in zip(rows, normalise([r["s_trust_mean"] for r in rows])):
        r["normalized"] = n
    return rows


__all__ = ["KINDS", "ROOT", "GRID_VALUES", "SweepBudget", "SweepThresholds", "SweepGrid", "load_grid",
           "cell_name", "parse_cell_args", "cell_valid", "cell_result", "read_cells", "mean_s_trust",
           "normalise", "heatmap_rows", "exp_rows", "best", "upper_right_share", "line_rows", "cell_data", "run_cell"]

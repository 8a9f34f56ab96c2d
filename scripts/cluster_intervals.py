"""How much the cluster bootstrap moves the reported intervals: per model and per set / scope, the
questions and units of the set and the width of the 95% S_trust and Acc intervals (Tables 1-4) resampled by
question and by unit (``stats.cluster``), and the same for the paper's trend checks; on a finished run's
test sets and predictions (read only).

    python scripts/cluster_intervals.py                   # this checkout (dvc repro first)
    python scripts/cluster_intervals.py --root /path/run  # another run's data/ (read only), this params.yaml

Prints two tables; nothing is written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inbol.evaluation import load_testsets, tables
from inbol.evaluation.report import load_runs, run_files, run_seed
from inbol.evaluation.stats import units
from inbol.markdown import table
from inbol.params import load_params


def width(ci: dict | None) -> float | None:
    return None if not ci or ci.get("lo") is None else ci["hi"] - ci["lo"]


def fmt(v) -> str:
    return "—" if v is None else f"{v:.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--root", default=".", help="the run's root (data/testsets, data/predictions)")
    ap.add_argument("--params", default="params.yaml", help="the params (models, stats) to read")
    ap.add_argument("--models", nargs="*", default=None, help="models (default: every model with predictions)")
    a = ap.parse_args()
    root = Path(a.root)
    p = load_params(a.params)
    testsets = load_testsets(root / "data/testsets")
    preds = root / "data/predictions"
    models = a.models or p.models.all()
    runs = load_runs(preds, models, testsets)
    kw = {"n_boot": p.stats.n_boot, "level": p.stats.level, "seed": p.stats.seed}
    value_runs = {m: tables.Runs(m, testsets, runs[m], [run_seed(f) for f in run_files(preds, m)]) for m in runs}
    n_units = {n: int(units(ts.records).max()) + 1 for n, ts in testsets.items()}
    rows = []
    for m, r in value_runs.items():
        q = tables.model_cis(r, testsets, **kw, cluster="question")
        u = tables.model_cis(r, testsets, **kw, cluster="unit")
        for where in [*testsets, "in_domain", "ood"]:
            cq = q["sets"].get(where) or q.get(where)
            cu = u["sets"].get(where) or u.get(where)
            if not cq:
                continue
            n = len(testsets[where].records) if where in testsets else None
            k = n_units.get(where)
            cells = [fmt(width(cq[x])) + " -> " + fmt(width(cu[x])) for x in ("s_trust", "acc")]
            rows.append([m, where, str(n or "—"), str(k or "—"), *cells])
    print(
        "\n".join(
            table(["model", "set / scope", "questions", "units", "S_trust width (q -> u)", "Acc width (q -> u)"], rows)
        )
    )
    print()
    q = tables.trend_checks(value_runs, testsets, **kw, cluster="question")
    u = tables.trend_checks(value_runs, testsets, **kw, cluster="unit")
    rows = [
        [a["check"], a["scope"], fmt(width(a["diff"])) + " -> " + fmt(width(b["diff"])), a["verdict"], b["verdict"]]
        for a, b in zip(q, u)
    ]
    print("\n".join(table(["trend", "scope", "A - B width (q -> u)", "verdict by question", "verdict by unit"], rows)))


if __name__ == "__main__":
    main()

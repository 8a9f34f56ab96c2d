"""The miniature's world/base targets (issue 17) side by side for one or more runs of the DAG, e.g. the
default and a copy with another `world.seed`:

    git worktree add /tmp/seed1 && cd /tmp/seed1 && <set world.seed: 1 in params.yaml> && dvc repro miniature
    python scripts/world_targets.py . /tmp/seed1

Reads each folder's metrics/base_model.json, metrics/confidence.json and metrics/miniature.json (no model is
loaded) and prints a Markdown table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inbol.io import read_json
from inbol.markdown import table


def targets(run: Path) -> dict[str, tuple[str, bool | None]]:
    """Figure -> (value as text, target met or None when the figure has no target)."""
    base, conf = read_json(run / "metrics/base_model.json"), read_json(run / "metrics/confidence.json")
    mini = read_json(run / "metrics/miniature.json")
    out: dict[str, tuple[str, bool | None]] = {}
    fams = base["heldout"]["accuracy_by_family"]
    for f in ("perception", "emblem", "choice"):
        a = 100 * fams[f]["acc"]
        out[f"held-out greedy, {f} (35-75%)"] = (f"{a:.1f}", 35 <= a <= 75)
    expo = base["heldout"]["emblem_accuracy_by_exposure"]
    order = [k for k in ("0", "1-4", "5-14", "15-49", "50+") if k in expo]
    accs = [expo[k]["acc"] for k in order]
    out["emblem acc by exposure (rising)"] = (
        " / ".join(f"{k}: {100 * a:.0f}" for k, a in zip(order, accs)),
        all(x < y for x, y in zip(accs, accs[1:])),
    )
    pool = conf["splits"]["pool"]
    for b in ("known", "mixed", "unknown"):
        s = 100 * pool[f"{b}_share"]
        out[f"pool {b} (>= 15%)"] = (f"{s:.1f}", s >= 15)
    for s, t in mini["targets"].items():
        for fig, v in t.items():
            val = v["value"]
            out[f"{s}: {fig} ({v['target']})"] = (f"{100 * val:.1f}" if isinstance(val, float) else str(val), v["met"])
    base_s = base.get("train_seconds")  # the world stage adds about 45 s (not recorded in its metrics)
    if base_s is not None:
        out["base_model pretraining time (world + base <= 10 min)"] = (f"{base_s / 60:.1f} min", base_s + 45 <= 600)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path, help="repository folders whose metrics/ to read")
    a = ap.parse_args()
    cols = [targets(r) for r in a.runs]
    rows = []
    for fig in cols[0]:
        cells = []
        for c in cols:
            val, met = c.get(fig, ("n/a", None))
            cells.append(val + ("" if met is None or met else " **missed**"))
        rows.append([fig, *cells])
    print("\n".join(table(["figure", *(str(r) for r in a.runs)], rows)))


if __name__ == "__main__":
    main()

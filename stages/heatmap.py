"""Stage `heatmap`: the paper's Figure 10 from the threshold cells (validation sets): the normalised mean of
in-domain and OOD S_trust over the (delta_k, delta_uk) cells, each cell's bootstrap interval over questions
and seeds, the cells not distinguishable from the best one marked, and the top-level thresholds boxed."""

from inbol.errors import run_stage, stage_args
from inbol.evaluation import load_testsets
from inbol.io import write_json
from inbol.plots import plot_heatmap, write_csv
from inbol.schema.core import load_sections
from inbol.schema.stats import Stats
from inbol.schema.sweep import Sweep
from inbol.sweep import heatmap_rows, read_cells, upper_right_share, with_intervals

FIELDS = [
    "delta_k",
    "delta_uk",
    "seeds",
    "s_trust_in_domain",
    "s_trust_ood",
    "s_trust_mean",
    "normalized",
    "value",
    "value_lo",
    "value_hi",
    "gap_to_best",
    "gap_lo",
    "gap_hi",
    "indistinguishable_from_best",
]


def main() -> None:
    args = stage_args(__doc__, "cells", "valsets", "csv", "png", "metrics")
    p = load_sections("delta_k", "delta_uk", stats=Stats, sweep=Sweep)
    current = (p.delta_k, p.delta_uk)
    rows = heatmap_rows(read_cells(args.cells), p.sweep.cells)
    rows = with_intervals(
        rows, args.cells, load_testsets(args.valsets), n_boot=p.stats.n_boot, level=p.stats.level, seed=p.stats.seed
    )
    write_csv(rows, args.csv, FIELDS)
    plot_heatmap(rows, args.png, current=current)
    near = [f"{r['delta_k']:g}/{r['delta_uk']:g}" for r in rows if r["indistinguishable_from_best"]]
    write_json(
        args.metrics,
        {
            "split": "validation",
            "cells": len(rows),
            "seeds": sorted({r["seeds"] for r in rows}),
            "current": {"delta_k": current[0], "delta_uk": current[1]},
            "indistinguishable_from_best": near,
            **upper_right_share(rows),
        },
    )


if __name__ == "__main__":
    run_stage(main)

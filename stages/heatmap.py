"""Stage `heatmap`: the paper's Figure 10 from the threshold cells: the normalised mean of in-domain and OOD
S_trust over the (delta_k, delta_uk) grid (each cell averaged over its seeds), the current top-level
thresholds boxed in red."""

from inbol.errors import run_stage, stage_args
from inbol.io import write_json
from inbol.params import load_params
from inbol.plots import plot_heatmap, write_csv
from inbol.sweep import heatmap_rows, read_cells, upper_right_share

FIELDS = ["delta_k", "delta_uk", "s_trust_in_domain", "s_trust_ood", "s_trust_mean", "normalized"]


def main() -> None:
    args = stage_args(__doc__, "cells", "csv", "png", "metrics")
    p = load_params()
    current = (p.delta_k, p.delta_uk)
    rows = heatmap_rows(read_cells(args.cells), p.sweep.delta_k, p.sweep.delta_uk)
    write_csv(rows, args.csv, FIELDS)
    plot_heatmap(rows, args.png, current=current)
    write_json(
        args.metrics,
        {"cells": len(rows), "current": {"delta_k": current[0], "delta_uk": current[1]}, **upper_right_share(rows)},
    )


if __name__ == "__main__":
    run_stage(main)

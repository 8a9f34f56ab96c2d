"""Stage `heatmap`: the paper's Figure 10 from the threshold cells in data/sweep/threshold/: the normalised
mean of in-domain and OOD S_trust over the (delta_k, delta_uk) grid, the current top-level thresholds
boxed in red.  Writes plots/figure10.csv (+ .png) and metrics/sweep_thresholds.json.
"""
from inbol.config import load_params, run_stage
from inbol.boundary import check_thresholds
from inbol.io import write_json
from inbol.plots import plot_heatmap, write_csv
from inbol.sweep import ROOT, heatmap_rows, load_grid, read_cells, upper_right_share

FIELDS = ["delta_k", "delta_uk", "s_trust_in_domain", "s_trust_ood", "s_trust_mean", "normalized"]


def main() -> None:
    params = load_params()
    grid = load_grid(params)
    current = check_thresholds(params.get("delta_k"), params.get("delta_uk"))
    rows = heatmap_rows(read_cells(ROOT / "threshold"), grid.delta_k, grid.delta_uk)
    write_csv(rows, "plots/figure10.csv", FIELDS)
    plot_heatmap(rows, "plots/figure10.png", current=current)
    write_json("metrics/sweep_thresholds.json", {"cells": len(rows), "current": {"delta_k": current[0],
                                                  "delta_uk": current[1]}, **upper_right_share(rows)})


if __name__ == "__main__":
    run_stage(main)

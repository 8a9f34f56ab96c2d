"""Stage `figure11`: the paper's Figure 11 from the known-ratio cells (IDK-IT) and the composition cells
(CA-DPO) in data/sweep/.  Writes plots/figure11a.csv, plots/figure11b.csv, plots/figure11.png and
metrics/sweep_composition.json (the best value of each sweep).
"""
from inbol.config import load_params, run_stage
from inbol.io import write_json
from inbol.plots import plot_figure11, write_csv
from inbol.sweep import ROOT, best, line_rows, load_grid, read_cells

SCORES = [f"{m}_{s}" for m in ("s_trust", "acc", "refr") for s in ("in_domain", "ood")]


def main() -> None:
    grid = load_grid(load_params())
    ratio = line_rows(read_cells(ROOT / "known_ratio"), "known_ratio", grid.known_ratio)
    weight = line_rows(read_cells(ROOT / "composition"), "composition", grid.known_weight)
    for r in ratio + weight:
        r["s_trust_mean"] = (r["s_trust_in_domain"] + r["s_trust_ood"]) / 2
    write_csv(ratio, "plots/figure11a.csv", ["known_ratio", *SCORES, "s_trust_mean"])
    write_csv(weight, "plots/figure11b.csv", ["known_weight", "label", *SCORES, "s_trust_mean"])
    plot_figure11(ratio, weight, "plots/figure11.png")
    b_ratio, b_weight = best(ratio), best(weight)
    write_json("metrics/sweep_composition.json", {
        "known_ratio": {"best": b_ratio["known_ratio"], "s_trust_mean": b_ratio["s_trust_mean"], "paper_best": 0.75},
        "composition": {"best": b_weight["label"], "s_trust_mean": b_weight["s_trust_mean"], "paper_best": "1:1:2"}})


if __name__ == "__main__":
    run_stage(main)

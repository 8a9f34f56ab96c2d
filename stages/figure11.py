"""Stage `figure11`: the paper's Figure 11 from the known-ratio cells (IDK-IT) and the composition cells
(CA-DPO), each cell averaged over its seeds; the best value of each sweep in the metrics."""

from inbol.errors import run_stage, stage_args
from inbol.io import write_json
from inbol.params import load_params
from inbol.plots import plot_figure11, write_csv
from inbol.sweep import best, line_rows, read_cells

SCORES = [f"{m}_{s}" for m in ("s_trust", "acc", "refr") for s in ("in_domain", "ood")]


def main() -> None:
    args = stage_args(__doc__, "known_ratio_cells", "composition_cells", "csv_a", "csv_b", "png", "metrics")
    sweep = load_params().sweep
    ratio = line_rows(read_cells(args.known_ratio_cells), "known_ratio", sweep.known_ratio)
    weight = line_rows(read_cells(args.composition_cells), "composition", sweep.known_weight)
    for r in ratio + weight:
        r["s_trust_mean"] = (r["s_trust_in_domain"] + r["s_trust_ood"]) / 2
    write_csv(ratio, args.csv_a, ["known_ratio", *SCORES, "s_trust_mean"])
    write_csv(weight, args.csv_b, ["known_weight", "label", *SCORES, "s_trust_mean"])
    plot_figure11(ratio, weight, args.png)
    b_ratio, b_weight = best(ratio), best(weight)
    write_json(
        args.metrics,
        {
            "known_ratio": {
                "best": b_ratio["known_ratio"],
                "s_trust_mean": b_ratio["s_trust_mean"],
                "paper_best": 0.75,
            },
            "composition": {"best": b_weight["label"], "s_trust_mean": b_weight["s_trust_mean"], "paper_best": "1:1:2"},
        },
    )


if __name__ == "__main__":
    run_stage(main)

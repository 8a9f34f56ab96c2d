"""Stage `figure11`: the paper's Figure 11 from the known-ratio cells (IDK-IT) and the composition cells
(CA-DPO) on the validation sets: S_trust in domain and OOD per value, the mean of the two with its bootstrap
interval over questions and seeds, and the values not distinguishable from the best one."""

from pathlib import Path

from inbol.errors import run_stage, stage_args
from inbol.evaluation import load_testsets
from inbol.io import write_json
from inbol.plots import plot_figure11, write_csv
from inbol.schema.core import load_sections
from inbol.schema.stats import Stats
from inbol.schema.sweep import Sweep
from inbol.sweep import best, line_rows, read_cells, with_intervals

SCORES = [f"{m}_{s}" for m in ("s_trust", "acc", "refr") for s in ("in_domain", "ood")]
CI = ["value", "value_lo", "value_hi", "gap_to_best", "gap_lo", "gap_hi", "indistinguishable_from_best", "seeds"]


def main() -> None:
    args = stage_args(__doc__, "known_ratio_cells", "composition_cells", "valsets", "csv_a", "csv_b", "png", "metrics")
    p = load_sections(stats=Stats, sweep=Sweep)
    valsets = load_testsets(args.valsets)
    kw = {"n_boot": p.stats.n_boot, "level": p.stats.level, "seed": p.stats.seed}
    out = {}
    for kind, folder, grid in (
        ("known_ratio", args.known_ratio_cells, p.sweep.known_ratio),
        ("composition", args.composition_cells, p.sweep.known_weight),
    ):
        rows = with_intervals(line_rows(read_cells(folder), kind, grid), Path(folder), valsets, **kw)
        for r in rows:
            r["s_trust_mean"] = (r["s_trust_in_domain"] + r["s_trust_ood"]) / 2
        out[kind] = rows
    ratio, weight = out["known_ratio"], out["composition"]
    write_csv(ratio, args.csv_a, ["known_ratio", *SCORES, "s_trust_mean", *CI])
    write_csv(weight, args.csv_b, ["known_weight", "label", *SCORES, "s_trust_mean", *CI])
    plot_figure11(ratio, weight, args.png)
    b_ratio, b_weight = best(ratio), best(weight)
    write_json(
        args.metrics,
        {
            "split": "validation",
            "known_ratio": {
                "best": b_ratio["known_ratio"],
                "s_trust_mean": b_ratio["s_trust_mean"],
                "paper_best": 0.75,
                "indistinguishable_from_best": [r["known_ratio"] for r in ratio if r["indistinguishable_from_best"]],
            },
            "composition": {
                "best": b_weight["label"],
                "s_trust_mean": b_weight["s_trust_mean"],
                "paper_best": "1:1:2",
                "indistinguishable_from_best": [r["label"] for r in weight if r["indistinguishable_from_best"]],
            },
        },
    )


if __name__ == "__main__":
    run_stage(main)

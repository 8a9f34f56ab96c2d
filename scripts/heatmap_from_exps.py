"""Figure 10 from DVC experiments instead of the matrix cells: each experiment's top-level (delta_k,
delta_uk) and its IDK-IT models' S_trust (metrics/summary.json, the mean over the seeds), trained with the
full budget.

    dvc exp run --queue -S delta_k=0.7 -S delta_uk=0.3      # one per grid pair
    dvc queue start -j 1                                     # then wait: dvc queue status
    dvc exp show --csv                                       # the table
    python scripts/heatmap_from_exps.py                      # plots/figure10_exps.{csv,png}
"""

import argparse
import sys

import dvc.api

from inbol.errors import DataError, run_stage
from inbol.plots import plot_heatmap, write_csv
from inbol.sweep import exp_rows

FIELDS = ["delta_k", "delta_uk", "s_trust_in_domain", "s_trust_ood", "s_trust_mean", "normalized", "experiment"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="plots/figure10_exps", help="output path without extension")
    ap.add_argument("--num", type=int, default=1, help="experiments of the last NUM commits (dvc exp show -n)")
    args = ap.parse_args()
    rows = exp_rows(dvc.api.exp_show(num=args.num))
    if not rows:
        raise DataError(
            "no finished experiment has delta_k > delta_uk and IDK-IT's S_trust in metrics/summary.json "
            "(queue some: dvc exp run --queue -S delta_k=0.7 -S delta_uk=0.3; dvc queue start)"
        )
    write_csv(rows, f"{args.out}.csv", FIELDS)
    plot_heatmap(rows, f"{args.out}.png", title="Figure 10 from experiments: normalised mean S_trust")
    for r in rows:
        print(
            f"delta_k {r['delta_k']:g}  delta_uk {r['delta_uk']:g}  S_trust in {r['s_trust_in_domain']:.1f}  "
            f"OOD {r['s_trust_ood']:.1f}  normalised {r['normalized']:.2f}  ({r['experiment']})",
            file=sys.stdout,
        )


if __name__ == "__main__":
    run_stage(main)

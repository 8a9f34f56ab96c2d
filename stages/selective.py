"""Stage `selective`: Table 5, beyond the paper: S_trust, Effective Reliability Phi_c, AURC and
over-refusal of the original model, the Refusal Prompt, IDK-IT and CA-DPO, and of self-consistency
abstention on the original model and on top of IDK-IT and CA-DPO (thresholds chosen on the validation
sets), with bootstrap intervals; and the risk-coverage curves (inbol.evaluation.abstention)."""

from inbol.errors import run_stage, stage_args
from inbol.evaluation import load_testsets
from inbol.evaluation.abstention import LABELS, selective_report
from inbol.evaluation.report import load_runs, run_files, run_seed
from inbol.io import read_jsonl, write_json
from inbol.plots import plot_risk_coverage, write_csv
from inbol.schema.core import load_sections
from inbol.schema.selective import Selective
from inbol.schema.stats import Stats


def main() -> None:
    args = stage_args(
        __doc__, "testsets", "valsets", "predictions", "val_predictions", "consistency", "metrics", "csv", "png"
    )
    p = load_sections("delta_k", "delta_uk", selective=Selective, stats=Stats)
    models = list(LABELS)  # Table 5's rows: the original model, the Refusal Prompt, IDK-IT, CA-DPO
    testsets, valsets = load_testsets(args.testsets), load_testsets(args.valsets)
    test_runs = load_runs(args.predictions, models, testsets)
    val_runs = load_runs(args.val_predictions, models, valsets)
    agreements = {}
    for m in models:
        files = run_files(args.consistency, m)
        if files:
            rows = [read_jsonl(f) for f in files]
            agreements[m] = {
                split: [{(r["set"], r["id"]): r["agreement"] for r in run if r["split"] == split} for run in rows]
                for split in ("test", "val")
            }
    table, curves = selective_report(
        testsets,
        valsets,
        test_runs,
        val_runs,
        agreements,
        costs=p.selective.costs,
        n_boot=p.stats.n_boot,
        level=p.stats.level,
        seed=p.stats.seed,
        thresholds=(p.delta_k, p.delta_uk),
        cluster=p.stats.cluster,
    )
    seeds = {m: [run_seed(f) for f in run_files(args.predictions, m)] for m in test_runs}
    write_csv(curves, args.csv, ["row", "scope", "coverage", "risk"])
    plot_risk_coverage(curves, args.png)
    write_json(
        args.metrics,
        {
            "rows": table,
            "costs": list(p.selective.costs),
            "seeds": seeds,
            "k": p.selective.k,
            "temperature": p.selective.temperature,
        },
    )


if __name__ == "__main__":
    run_stage(main)

"""Stage `confidence_report`: confidence distribution, Known/Mixed/Unknown counts at delta_k/delta_uk,
base refusal rate; histogram CSV + PNG."""
from pathlib import Path

from inbol.config import load_params, run_stage
from inbol.confidence import check_thresholds, confidence_metrics, histogram_rows, plot_histogram, write_histogram_csv
from inbol.io import read_json, read_jsonl, write_json

JUDGED, RESTRUCTURED = Path("data/judged"), Path("data/restructured")
HEADLINE = "pool"


def main() -> None:
    params = load_params()
    delta_k, delta_uk = check_thresholds(params.get("delta_k"), params.get("delta_uk"))
    stats = read_json(JUDGED / "stats.json")
    judged = {s: read_jsonl(JUDGED / f"{s}.jsonl") for s in stats["splits"]}
    restructured = {s: read_jsonl(RESTRUCTURED / f"{s}.jsonl") for s in stats["splits"]}
    split = HEADLINE if HEADLINE in restructured else next(iter(restructured))
    metrics = confidence_metrics(restructured, judged, delta_k=delta_k, delta_uk=delta_uk,
                                 bad_images={s: v["n_bad_images"] for s, v in stats["splits"].items()},
                                 by_family=[split])
    write_json("metrics/confidence.json", metrics)
    rows = histogram_rows(metrics, split)
    write_histogram_csv(rows, "plots/confidence_hist.csv")
    plot_histogram(rows, "plots/confidence_hist.png", delta_k=delta_k, delta_uk=delta_uk,
                   title=f"Base-model confidence on {split} (K = {metrics['k']})")


if __name__ == "__main__":
    run_stage(main)

"""Stage `confidence_report`: confidence distribution, Known/Mixed/Unknown counts at delta_k/delta_uk,
base refusal rate; histogram CSV + PNG."""

from pathlib import Path

from inbol.confidence import confidence_metrics, histogram_rows, plot_histogram, write_histogram_csv
from inbol.errors import run_stage, stage_args
from inbol.io import read_json, write_json
from inbol.records import read_questions, read_samples
from inbol.schema.core import load_sections

HEADLINE = "pool"


def main() -> None:
    args = stage_args(__doc__, "judged", "restructured", "metrics", "hist_csv", "hist_png")
    p = load_sections("delta_k", "delta_uk")
    stats = read_json(Path(args.judged) / "stats.json")
    judged = {s: read_samples(Path(args.judged) / f"{s}.jsonl", judged=True) for s in stats["splits"]}
    restructured = {s: read_questions(Path(args.restructured) / f"{s}.jsonl") for s in stats["splits"]}
    split = HEADLINE if HEADLINE in restructured else next(iter(restructured))
    metrics = confidence_metrics(
        restructured,
        judged,
        delta_k=p.delta_k,
        delta_uk=p.delta_uk,
        bad_images={s: v["n_bad_images"] for s, v in stats["splits"].items()},
        by_family=[split],
    )
    write_json(args.metrics, metrics)
    rows = histogram_rows(metrics, split)
    write_histogram_csv(rows, args.hist_csv)
    plot_histogram(
        rows,
        args.hist_png,
        delta_k=p.delta_k,
        delta_uk=p.delta_uk,
        title=f"Base-model confidence on {split} (K = {metrics['k']})",
    )


if __name__ == "__main__":
    run_stage(main)

"""Stage `summary`: the headline metrics of a run (metrics/summary.json: per model and scope Acc, RefR,
S_trust with its interval, the trend verdicts; flat numbers for `dvc metrics diff` and `dvc exp show`), the
generated results page (docs/results.md) and the README's headline block (between its markers), from the
committed metrics files alone."""

from pathlib import Path

from inbol.errors import run_stage, stage_args
from inbol.io import atomic_path, read_json, write_json
from inbol.summary import build_summary, headline_block, replace_block, results_page


def main() -> None:
    args = stage_args(
        __doc__,
        "trends",
        "selective",
        "miniature",
        "probe",
        "train",
        "sweep_thresholds",
        "sweep_composition",
        "summary",
        "results",
        "readme",
        "diagnose",
    )
    trends, selective = read_json(args.trends), read_json(args.selective)
    probes = [read_json(f) for f in sorted(Path(args.probe).glob("s*.json"))]
    train = [read_json(f) for f in sorted(Path(args.train).glob("*.json"))]
    summary = build_summary(trends, selective)
    readme = replace_block(Path(args.readme).read_text(), headline_block(summary), args.readme)  # fails before writing
    page = results_page(
        summary,
        trends,
        selective=selective,
        miniature=read_json(args.miniature),
        probes=probes,
        train=train,
        sweep_thresholds=read_json(args.sweep_thresholds),
        sweep_composition=read_json(args.sweep_composition),
        diagnose=Path(args.diagnose).read_text() if Path(args.diagnose).is_file() else None,
    )
    write_json(args.summary, summary)
    for path, text in ((args.results, page), (args.readme, readme)):
        with atomic_path(path) as tmp:
            Path(tmp).write_text(text)
            Path(tmp).chmod(0o644)


if __name__ == "__main__":
    run_stage(main)

"""Stage `report`: the paper's Tables 1-4 (tables.md), Figure 4 and the exposure figure (plots folder), and the
paper's trends checked on our numbers (trends.json), from the predictions of every evaluated model."""

from pathlib import Path

from inbol.errors import run_stage, stage_args
from inbol.evaluation import load_testsets
from inbol.evaluation.report import load_runs, score_models, write_report
from inbol.evaluation.testsets import MANIFEST
from inbol.io import read_json
from inbol.params import load_params


def main() -> None:
    args = stage_args(__doc__, "testsets", "predictions", "tables", "plots", "trends")
    models = load_params().models.all()
    testsets = load_testsets(args.testsets)
    runs = load_runs(args.predictions, models, testsets)
    predictions = {m: [p for preds in r for p in preds] for m, r in runs.items()}
    write_report(
        score_models(testsets, runs),
        predictions,
        models=models,
        tables_md=args.tables,
        plots_dir=args.plots,
        trends_path=args.trends,
        manifest=read_json(Path(args.testsets) / MANIFEST),
    )


if __name__ == "__main__":
    run_stage(main)

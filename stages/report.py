"""Stage `report`: the paper's Tables 1-4 with bootstrap intervals (tables.md), its trends with verdicts
(trends.json), the per-seed numbers (CSV), Figure 4 and the exposure figure (plots folder), from the
predictions of every evaluated model on the test sets; beyond the paper, the OVEN-like overlap with the
fine-tuning data (construct metrics), the miniature's analogue check (validation sets), Table 5 (the
selective stage's metrics), the boundary-awareness figures (metrics JSON and the bin table's CSV), and the
reference rows' rules (their metrics files) with each trained method against them."""

from pathlib import Path

from inbol.errors import run_stage, stage_args
from inbol.evaluation import load_testsets
from inbol.evaluation.awareness import write_awareness
from inbol.evaluation.report import load_runs, reference_info, run_files, run_seed, write_report
from inbol.evaluation.testsets import MANIFEST
from inbol.io import read_json
from inbol.schema.awareness import Awareness
from inbol.schema.core import load_sections
from inbol.schema.models import Models
from inbol.schema.stats import Stats


def main() -> None:
    args = stage_args(
        __doc__,
        "testsets",
        "predictions",
        "construct",
        "miniature",
        "selective",
        "tables",
        "plots",
        "trends",
        "seeds_csv",
        "awareness",
        "awareness_csv",
        "eval",
    )
    p = load_sections(models=Models, stats=Stats, awareness=Awareness)
    models = p.models.reported()
    testsets = load_testsets(args.testsets)
    runs = load_runs(args.predictions, models, testsets)
    seeds = {m: [run_seed(f) for f in run_files(args.predictions, m)] for m in runs}
    construct = [read_json(f) for f in sorted(Path(args.construct).glob("s*.json"))]
    kw = {"n_boot": p.stats.n_boot, "level": p.stats.level, "seed": p.stats.seed}
    aw = write_awareness(
        testsets, runs, seeds, **kw, min_n=p.awareness.min_n, json_path=args.awareness, csv_path=args.awareness_csv
    )
    write_report(
        testsets,
        runs,
        seeds,
        models=models,
        stats=p.stats,
        tables_md=args.tables,
        plots_dir=args.plots,
        trends_path=args.trends,
        seeds_csv=args.seeds_csv,
        manifest=read_json(Path(args.testsets) / MANIFEST),
        construct=construct,
        miniature=read_json(args.miniature),
        selective=read_json(args.selective),
        awareness=aw,
        references=reference_info(args.eval, models),
    )


if __name__ == "__main__":
    run_stage(main)

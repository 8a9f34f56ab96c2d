"""Stage `report`: the paper's Tables 1-4 (metrics/tables.md), Figure 4 and the exposure figure (plots/),
and the paper's trends checked on our numbers (metrics/trends.json)."""
from pathlib import Path

from inbol.config import run_stage
from inbol.evaluation import load_testsets
from inbol.evaluation.report import load_evals, load_predictions, write_report
from inbol.evaluation.testsets import MANIFEST
from inbol.io import read_json

TESTSETS = Path("data/testsets")


def main() -> None:
    evals = load_evals("metrics/eval")
    has_sets = (TESTSETS / MANIFEST).is_file()
    predictions = load_predictions("data/predictions", testsets=load_testsets(TESTSETS) if has_sets else None)
    write_report(evals, predictions, tables_md="metrics/tables.md", plots_dir="plots", trends_path="metrics/trends.json",
                 manifest=read_json(TESTSETS / MANIFEST) if has_sets else None)


if __name__ == "__main__":
    run_stage(main)

"""Stage `restructure`: conf per question and the paper's Figure 2 records (data only; the metrics that
depend on delta_k/delta_uk are the `confidence_report` stage, so a threshold change never re-runs this)."""

from pathlib import Path

from inbol.confidence import restructure_split
from inbol.errors import run_stage, stage_args
from inbol.io import atomic_dir, read_json, write_jsonl
from inbol.records import read_questions, read_samples
from inbol.schema.core import load_sections
from inbol.schema.restructure import Restructure


def main() -> None:
    args = stage_args(__doc__, "world", "judged", "out")
    cfg = load_sections(restructure=Restructure).restructure
    stats = read_json(Path(args.judged) / "stats.json")
    restructured = {
        split: restructure_split(
            read_questions(Path(args.world) / f"{split}.jsonl"),
            read_samples(Path(args.judged) / f"{split}.jsonl", judged=True),
            cfg.seed,
            name=str(Path(args.judged) / f"{split}.jsonl"),
            refusal_templates=cfg.refusal_templates,
        )
        for split in stats["splits"]
    }
    with atomic_dir(args.out) as tmp:
        for split, recs in restructured.items():
            write_jsonl(tmp / f"{split}.jsonl", recs)


if __name__ == "__main__":
    run_stage(main)

"""Stage `restructure`: conf per question and the paper's Figure 2 records (data only; the metrics that
depend on delta_k/delta_uk are the `confidence_report` stage, so a threshold change never re-runs this)."""
from pathlib import Path

from inbol.config import load_section, run_stage
from inbol.confidence import RestructureConfig, restructure_split
from inbol.io import atomic_dir, read_json, read_jsonl, write_jsonl

WORLD, JUDGED, OUT = Path("data/world"), Path("data/judged"), Path("data/restructured")


def main() -> None:
    cfg = load_section(RestructureConfig, "restructure")
    stats = read_json(JUDGED / "stats.json")
    restructured = {split: restructure_split(read_jsonl(WORLD / f"{split}.jsonl"), read_jsonl(JUDGED / f"{split}.jsonl"),
                                             cfg.seed, name=str(JUDGED / f"{split}.jsonl"),
                                             refusal_templates=cfg.refusal_templates)
                    for split in stats["splits"]}
    with atomic_dir(OUT) as tmp:
        for split, recs in restructured.items():
            write_jsonl(tmp / f"{split}.jsonl", recs)


if __name__ == "__main__":
    run_stage(main)

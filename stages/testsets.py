"""Stage `testsets`: the evaluation sets: in domain (three families balanced so that the original model is
about target_acc accurate, plus UaVQA), out of domain and extra unanswerable (see inbol.evaluation.testsets)."""
import sys

from inbol.config import load_section, run_stage
from inbol.evaluation.testsets import MANIFEST, TestsetsConfig, build_testsets, testsets_metrics
from inbol.io import atomic_dir, write_json, write_jsonl

OUT = "data/testsets"


def main() -> None:
    cfg = load_section(TestsetsConfig, "testsets")
    sets, manifest = build_testsets(cfg, "data/world", "data/restructured", "data/unanswerable/sets")
    with atomic_dir(OUT) as tmp:
        for name, records in sets.items():
            write_jsonl(tmp / f"{name}.jsonl", records)
        write_json(tmp / MANIFEST, manifest)
    write_json("metrics/testsets.json", testsets_metrics(manifest))
    for w in manifest["warnings"]:
        print(f"warning: testsets: {w}", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)

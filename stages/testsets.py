"""Stage `testsets`: the evaluation sets, for reporting (test) and for choosing (validation): in domain
(three families balanced so that the original model is about target_acc accurate, plus UaVQA), out of
domain, and (test only) the extra unanswerable sets (see inbol.evaluation.testsets).  Validation, test and
pool images must be disjoint."""

import sys

from inbol.errors import run_stage, stage_args
from inbol.evaluation.testsets import MANIFEST, build_testsets, check_disjoint_images, testsets_metrics
from inbol.io import atomic_dir, write_json, write_jsonl
from inbol.records import read_questions
from inbol.schema.core import load_sections
from inbol.schema.testsets import Testsets


def main() -> None:
    args = stage_args(__doc__, "world", "restructured", "unanswerable", "out", "val_out", "metrics")
    cfg = load_sections(testsets=Testsets).testsets
    built = {
        split: build_testsets(cfg, args.world, args.restructured, args.unanswerable, split) for split in ("test", "val")
    }
    check_disjoint_images(
        {
            "validation sets": [r for recs in built["val"][0].values() for r in recs],
            "test sets": [r for recs in built["test"][0].values() for r in recs],
            "train pool": read_questions(f"{args.world}/pool.jsonl"),
        }
    )
    for split, out in (("test", args.out), ("val", args.val_out)):
        sets, manifest = built[split]
        with atomic_dir(out) as tmp:
            for name, records in sets.items():
                write_jsonl(tmp / f"{name}.jsonl", records)
            write_json(tmp / MANIFEST, manifest)
    write_json(args.metrics, {split: testsets_metrics(built[split][1]) for split in built})
    for split, (_, manifest) in built.items():
        for w in manifest["warnings"]:
            print(f"warning: {split} sets: {w}", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)

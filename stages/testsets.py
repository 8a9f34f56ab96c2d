"""Stage `testsets`: the evaluation sets: in domain (three families balanced so that the original model is
about target_acc accurate, plus UaVQA), out of domain and extra unanswerable (see inbol.evaluation.testsets)."""

import sys

from inbol.errors import run_stage, stage_args
from inbol.evaluation.testsets import MANIFEST, build_testsets, testsets_metrics
from inbol.io import atomic_dir, write_json, write_jsonl
from inbol.params import load_params


def main() -> None:
    args = stage_args(__doc__, "world", "restructured", "unanswerable", "out", "metrics")
    sets, manifest = build_testsets(load_params().testsets, args.world, args.restructured, args.unanswerable)
    with atomic_dir(args.out) as tmp:
        for name, records in sets.items():
            write_jsonl(tmp / f"{name}.jsonl", records)
        write_json(tmp / MANIFEST, manifest)
    write_json(args.metrics, testsets_metrics(manifest))
    for w in manifest["warnings"]:
        print(f"warning: testsets: {w}", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)

"""Stage `construct@<seed>`: the Known/Mixed/Unknown split at delta_k/delta_uk and the training sets built
from it for one data-selection seed (IDK instructions, CA-DPO preferences, plain-DPO variants (1)(2)(3),
SFT baseline) + metrics."""

import sys

from inbol.boundary import SET_NAMES, construct
from inbol.errors import run_stage, stage_args
from inbol.io import atomic_dir, write_json, write_jsonl
from inbol.records import read_questions
from inbol.schema.core import load_sections
from inbol.schema.data import IDKITData, PreferenceData, SFTData
from inbol.schema.restructure import Restructure


def main() -> None:
    args = stage_args(__doc__, "pool", "unanswerable", "out", "metrics", seed=int)
    p = load_sections(
        "delta_k", "delta_uk", idk_it=IDKITData, preference=PreferenceData, sft=SFTData, restructure=Restructure
    )
    sets, metrics = construct(
        read_questions(args.pool, nonempty=True),
        read_questions(args.unanswerable, nonempty=True),
        delta_k=p.delta_k,
        delta_uk=p.delta_uk,
        idk_it=p.idk_it,
        preference=p.preference,
        sft=p.sft,
        seed=args.seed,
        names=(args.pool, args.unanswerable),
        refusal_templates=p.restructure.refusal_templates,
    )
    with atomic_dir(args.out) as tmp:
        for name in SET_NAMES:
            write_jsonl(tmp / f"{name}.jsonl", sets[name])
    write_json(args.metrics, metrics)
    for w in metrics["warnings"]:
        print(f"warning: {w}", file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)

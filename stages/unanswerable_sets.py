"""Stage `unanswerable_sets`: the evaluation sets beyond the extrinsic boundary, one per unanswerable set of
the registry (inbol.evalsets) and its validation twin: UaVQA (in domain, on test images, strict oracle),
BeyondVisQA-like and VizWiz-like (out of domain); with `world.source: datasets` the real sets the world stage
wrote."""

from pathlib import Path

from inbol.datasets.sets import copy_unanswerable_sets, is_datasets_world
from inbol.errors import run_stage, stage_args
from inbol.io import atomic_dir, read_json, write_json, write_jsonl
from inbol.records import read_questions
from inbol.schema.core import load_sections
from inbol.schema.unanswerable import Unanswerable
from inbol.schema.world import World
from inbol.unanswerable import build_sets
from inbol.world import load_scenes


def main() -> None:
    args = stage_args(__doc__, "world", "out", "metrics")
    p = load_sections(unanswerable=Unanswerable, world=World)
    world = Path(args.world)
    if is_datasets_world(world):  # world.source: datasets: the real sets, written by the world stage
        with atomic_dir(args.out) as tmp:
            stats = copy_unanswerable_sets(world, tmp)
        write_json(args.metrics, stats)
        return
    with atomic_dir(args.out) as tmp:
        sets = build_sets(
            p.unanswerable.sets,
            lambda split: read_questions(world / f"{split}.jsonl"),
            load_scenes(world),
            tmp,
            gen=p.unanswerable.generate,
            image_size=read_json(world / "stats.json")["image_size"],
            max_objects=p.world.max_objects,
            catalogue=read_json(world / "emblems.json"),
            image_prefix=args.out,
        )
        for name, (records, _, extra) in sets.items():
            write_jsonl(tmp / f"{name}.jsonl", records)
            for stem, rows in extra.items():
                write_jsonl(tmp / f"{stem}.jsonl", rows)
    write_json(args.metrics, {name: stats for name, (_, stats, _) in sets.items()})


if __name__ == "__main__":
    run_stage(main)

"""Stage `unanswerable_sets`: the evaluation sets beyond the extrinsic boundary: UaVQA (in domain, on test
images, strict oracle), BeyondVisQA-like and VizWiz-like (out of domain); with `world.source: datasets`
the real sets the world stage wrote."""

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
    beyond_source = read_questions(world / "ood_hard.jsonl") + read_questions(world / "ood_phrasing.jsonl")
    with atomic_dir(args.out) as tmp:
        sets = build_sets(
            p.unanswerable.sets,
            read_questions(world / "test.jsonl"),
            beyond_source,
            load_scenes(world),
            tmp,
            gen=p.unanswerable.generate,
            val_records=read_questions(world / "val.jsonl"),
            image_size=read_json(world / "stats.json")["image_size"],
            max_objects=p.world.max_objects,
            catalogue=read_json(world / "emblems.json"),
            image_prefix=args.out,
        )
        uavqa, uavqa_stats = sets["uavqa"]
        uavqa_val, uavqa_val_stats = sets["uavqa_val"]
        beyond, beyond_stats = sets["beyond"]
        vizwiz, vizwiz_scenes = sets["vizwiz"]
        write_jsonl(tmp / "uavqa.jsonl", uavqa)
        write_jsonl(tmp / "uavqa_val.jsonl", uavqa_val)
        write_jsonl(tmp / "beyond.jsonl", beyond)
        write_jsonl(tmp / "vizwiz.jsonl", vizwiz)
        write_jsonl(tmp / "vizwiz_scenes.jsonl", vizwiz_scenes)
    write_json(
        args.metrics,
        {"uavqa": uavqa_stats, "uavqa_val": uavqa_val_stats, "beyond": beyond_stats, "vizwiz": {"n": len(vizwiz)}},
    )


if __name__ == "__main__":
    run_stage(main)

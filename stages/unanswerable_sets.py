"""Stage `unanswerable_sets`: the evaluation sets beyond the extrinsic boundary: UaVQA (in domain, on test
images, strict oracle), BeyondVisQA-like and VizWiz-like (out of domain)."""
from inbol.config import load_section, run_stage
from inbol.io import atomic_dir, read_json, read_jsonl, write_json, write_jsonl
from inbol.unanswerable import UnanswerableGenerateConfig, UnanswerableSetsConfig, build_sets
from inbol.world import WorldConfig, load_scenes

WORLD = "data/world"
OUT = "data/unanswerable/sets"


def main() -> None:
    from inbol.datasets.sets import copy_unanswerable_sets, is_datasets_world

    if is_datasets_world(WORLD):   # world.source: datasets: the real sets, written by the world stage
        with atomic_dir(OUT) as tmp:
            stats = copy_unanswerable_sets(WORLD, tmp)
        write_json("metrics/unanswerable_sets.json", stats)
        return
    cfg = load_section(UnanswerableSetsConfig, "unanswerable.sets")
    gen = load_section(UnanswerableGenerateConfig, "unanswerable.generate")
    world = load_section(WorldConfig, "world")
    scenes = load_scenes(WORLD)
    beyond_source = read_jsonl(f"{WORLD}/ood_hard.jsonl") + read_jsonl(f"{WORLD}/ood_phrasing.jsonl")
    with atomic_dir(OUT) as tmp:
        sets = build_sets(cfg, read_jsonl(f"{WORLD}/test.jsonl"), beyond_source, scenes, tmp, gen=gen,
                          image_size=read_json(f"{WORLD}/stats.json")["image_size"], max_objects=world.max_objects,
                          catalogue=read_json(f"{WORLD}/emblems.json"), image_prefix=OUT)
        uavqa, uavqa_stats = sets["uavqa"]
        beyond, beyond_stats = sets["beyond"]
        vizwiz, vizwiz_scenes = sets["vizwiz"]
        write_jsonl(tmp / "uavqa.jsonl", uavqa)
        write_jsonl(tmp / "beyond.jsonl", beyond)
        write_jsonl(tmp / "vizwiz.jsonl", vizwiz)
        write_jsonl(tmp / "vizwiz_scenes.jsonl", vizwiz_scenes)
    write_json("metrics/unanswerable_sets.json", {"uavqa": uavqa_stats, "beyond": beyond_stats,
                                                   "vizwiz": {"n": len(vizwiz)}})


if __name__ == "__main__":
    run_stage(main)

"""Stage `world`: render the synthetic VQA world (images, scene graphs, corpus, question splits)."""
from inbol.config import load_section, run_stage
from inbol.io import atomic_dir, write_json
from inbol.world import WorldConfig, build_world

OUT = "data/world"


def main() -> None:
    cfg = load_section(WorldConfig, "world")
    with atomic_dir(OUT) as tmp:
        stats = build_world(cfg, tmp, image_prefix=OUT)
    write_json("metrics/world.json", stats)


if __name__ == "__main__":
    run_stage(main)

"""Stage `world`: the question splits of data/world: the synthetic VQA world (images, scene graphs, corpus;
`world.source: synthetic`) or the paper's datasets read through HF `datasets` (`world.source: datasets`)."""
from inbol.config import load_section, run_stage
from inbol.io import atomic_dir, write_json
from inbol.world import WorldConfig, build_world

OUT = "data/world"


def main() -> None:
    cfg = load_section(WorldConfig, "world")
    with atomic_dir(OUT) as tmp:
        if cfg.source == "datasets":
            from inbol.datasets import build_datasets_world

            stats = build_datasets_world(cfg.datasets, tmp, image_prefix=OUT)
        else:
            stats = build_world(cfg, tmp, image_prefix=OUT)
    write_json("metrics/world.json", stats)


if __name__ == "__main__":
    run_stage(main)

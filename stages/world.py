"""Stage `world`: the question splits of data/world: the synthetic VQA world (images, scene graphs, corpus;
`world.source: synthetic`) or the paper's datasets read through HF `datasets` (`world.source: datasets`)."""

from inbol.errors import run_stage, stage_args
from inbol.io import atomic_dir, write_json
from inbol.schema.core import load_sections
from inbol.schema.world import World
from inbol.world import build_world


def main() -> None:
    args = stage_args(__doc__, "out", "metrics")
    cfg = load_sections(world=World).world
    with atomic_dir(args.out) as tmp:
        if cfg.source == "datasets":
            from inbol.datasets import build_datasets_world

            stats = build_datasets_world(cfg.datasets, tmp, image_prefix=args.out)
        else:
            stats = build_world(cfg, tmp, image_prefix=args.out)
    write_json(args.metrics, stats)


if __name__ == "__main__":
    run_stage(main)

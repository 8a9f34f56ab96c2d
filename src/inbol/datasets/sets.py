"""The unanswerable evaluation sets at paper scale: the ``unanswerable_sets`` stage copies the sets that
the real-dataset world wrote (``data/world/{uavqa,beyond,vizwiz,vqav2_idk}.jsonl``) instead of building
synthetic ones.  Their sizes are the sources' ``limit`` (``world.datasets.<set>[].limit``)."""

from __future__ import annotations

from pathlib import Path

from ..io import read_json, read_jsonl, write_jsonl
from ..schema.world import UNANSWERABLE_SETS


def is_datasets_world(world_dir: str | Path) -> bool:
    stats = Path(world_dir) / "stats.json"
    return stats.is_file() and read_json(stats).get("source") == "datasets"


def copy_unanswerable_sets(world_dir: str | Path, out_dir: str | Path) -> dict:
    """Write ``<set>.jsonl`` for every unanswerable set of the world (an empty file when the world has
    none, e.g. no UaVQA source); returns ``{set: {"n": count}}``."""
    world_dir, out_dir = Path(world_dir), Path(out_dir)
    stats = {}
    for name in UNANSWERABLE_SETS:
        path = world_dir / f"{name}.jsonl"
        records = read_jsonl(path) if path.is_file() else []
        write_jsonl(out_dir / f"{name}.jsonl", records)
        stats[name] = {"n": len(records), "source": "datasets"}
    return stats

"""Real datasets of the paper read through HF ``datasets`` and mapped to the project's question records
(``world.source: datasets``; see docs/gpu.md).  The loaders and the builder (which import ``datasets``) are
imported on first use."""

from ..schema.world import UNANSWERABLE_SETS, WORLD_SPLITS

_LAZY = {
    "build_datasets_world": "build",
    "load_source": "build",
    "source_label": "build",
    "LOADERS": "loaders",
    "load_rows": "loaders",
    "IDK_KEYWORDS": "loaders",
    "BadRow": "loaders",
    "ImageMap": "images",
    "copy_unanswerable_sets": "sets",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)


__all__ = ["WORLD_SPLITS", "UNANSWERABLE_SETS", *_LAZY]

"""Real datasets of the paper read through HF ``datasets`` and mapped to the project's question records
(``world.source: datasets``; see docs/gpu.md).  The config classes are imported eagerly; the loaders and
the builder (which import ``datasets``) on first use."""
from .config import UNANSWERABLE_SETS, WORLD_SPLITS, DatasetsConfig, DatasetSource

_LAZY = {"build_datasets_world": "build", "load_source": "build", "source_label": "build", "LOADERS": "loaders",
         "load_rows": "loaders", "IDK_KEYWORDS": "loaders", "copy_unanswerable_sets": "sets"}


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)


__all__ = ["DatasetsConfig", "DatasetSource", "WORLD_SPLITS", "UNANSWERABLE_SETS", *_LAZY]

"""The synthetic VQA world: scenes of shapes and named emblems with known answers and a known
information boundary (see docs/world.md)."""

from .build import FAMILIES, build_world, load_scenes, ood_sets
from .emblems import make_catalogue
from .questions import answer_variants, derive_answer
from .scene import render

__all__ = [
    "FAMILIES",
    "ood_sets",
    "build_world",
    "load_scenes",
    "make_catalogue",
    "answer_variants",
    "derive_answer",
    "render",
]

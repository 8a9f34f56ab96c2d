"""The ``testsets`` section: the balanced test and validation sets."""

from __future__ import annotations

from .core import NonNegInt, PosInt, Section, Seed, Unit


class Testsets(Section):
    n_per_family: PosInt  # in-domain test questions per family (paper: 300 each)
    n_unanswerable: NonNegInt  # UaVQA (paper: 100)
    val_per_family: PosInt  # in-domain validation questions per family (chosen like the test ones)
    val_unanswerable: NonNegInt  # UaVQA-like validation questions
    target_acc: Unit  # the original model's mean confidence per family ("about 50% accurate")
    seed: Seed

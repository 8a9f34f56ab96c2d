"""The ``stats`` section: the bootstrap of every reported interval."""

from __future__ import annotations

from typing import Literal

from .core import Float, Int, Section, Seed


class Stats(Section):
    """The bootstrap of every reported interval (inbol.evaluation.stats)."""

    n_boot: Int(100)  # replicates (fewer than 100 give no usable percentile interval)
    level: Float(0.0, 1.0, lo_open=True, hi_open=True)  # the intervals' confidence level
    seed: Seed
    cluster: Literal["unit", "question"]  # resample the units questions share (emblem, image) or each question

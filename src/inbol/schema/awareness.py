"""The ``awareness`` section: the boundary-awareness figures of the report (inbol.evaluation.awareness)."""

from __future__ import annotations

from .core import PosInt, Section


class Awareness(Section):
    """Does refusal follow the original model's knowledge (inbol.evaluation.awareness)."""

    min_n: PosInt  # a figure on fewer questions (an AUROC: of either class) is n/a with a warning, not a number

"""The ``selective`` section: selective prediction and self-consistency."""

from __future__ import annotations

from .core import Float, PosInt, Section, UniqueList


class Selective(Section):
    """Table 5 (inbol.evaluation.abstention): selective prediction and inference-time abstention."""

    costs: UniqueList(Float(0.0, lo_open=True))  # the Effective Reliability costs c (Whitehead et al.: 1, 10, 100)
    k: PosInt  # samples per question for the self-consistency agreement
    temperature: Float(0.0, 2.0, lo_open=True)

"""The data-construction sections ``idk_it``, ``preference`` and ``sft``."""

from __future__ import annotations

import math
from typing import Annotated

from pydantic import AfterValidator

from .core import Float, OptFloat, PosInt, Section, _fail

# data construction
# --------------------------------------------------------------------------------------------


class IDKITData(Section):
    """``idk_it``: the IDK instruction set (paper: 11k, about 25% IDK)."""

    size: PosInt
    known_ratio: Float(0.0, 1.0, lo_open=True, hi_open=True)  # share of Known (answer) vs Unknown (refusal)
    unknown_extrinsic_share: OptFloat(
        0.0, 1.0
    )  # unanswerable share of the Unknown (refusal) instructions; null: the pool's


def _ratio(v: list[float]) -> list[float]:
    if len(v) != 3 or not all(math.isfinite(x) and x > 0 for x in v):
        raise _fail("must be 3 positive numbers Unknown:Mixed:Known, e.g. [1, 1, 2]")
    return v


class PreferenceData(Section):
    """``preference``: the CA-DPO questions (each with pairs p1, p2) and the plain DPO variants built from them."""

    size: PosInt
    ratio: Annotated[list[float], AfterValidator(_ratio)]  # Unknown:Mixed:Known over questions (paper: 1:1:2)
    unknown_extrinsic_share: OptFloat(0.0, 1.0)  # unanswerable share of the Unknown questions; null: the pool's
    known_disjoint: bool  # Known questions only from those not in the same seed's IDK-IT set


class SFTData(Section):
    """``sft``: the SFT baseline (ground truth for answerable questions, a refusal for unanswerable ones)."""

    size: PosInt

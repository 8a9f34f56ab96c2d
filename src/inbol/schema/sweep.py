"""The ``sweep`` section: Figures 10-11."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, model_validator

from .core import Float, OptFloat, OptInt, Section, Seed, UniqueList, Unit, _fail
from .dpo import DPO
from .training import Train


class SweepThresholds(Section):
    delta_k: Unit
    delta_uk: Unit

    @model_validator(mode="after")
    def _order(self):
        if self.delta_k <= self.delta_uk:
            raise _fail(f"must be greater than {{p}}delta_uk ({self.delta_uk:g})", "delta_k", self.delta_k)
        return self


class SweepBudget(Section):
    """Each sweep cell's training budget (null: as the main stages)."""

    idk_it_size: OptInt(1)
    preference_size: OptInt(1)
    epochs: OptFloat(0.0, lo_open=True)
    max_steps: OptInt(1)
    lr: OptFloat(0.0, 1.0, lo_open=True)
    groups: UniqueList(Literal["in_domain", "ood", "extra"])  # test-set groups each cell is evaluated on

    def train(self, train: Train) -> Train:
        return train.replace(
            **{k: getattr(self, k) for k in ("epochs", "max_steps", "lr") if getattr(self, k) is not None}
        )

    def dpo(self, dpo: DPO) -> DPO:
        return dpo.replace(**{k: getattr(self, k) for k in ("epochs", "lr") if getattr(self, k) is not None})


def _threshold_cell(v: str) -> str:
    m = re.fullmatch(r"([01](?:\.\d+)?)-([01](?:\.\d+)?)", v)
    if not m or not 0 <= float(m.group(2)) < float(m.group(1)) <= 1:
        raise _fail('must be "delta_k-delta_uk" with 0 <= delta_uk < delta_k <= 1, e.g. "0.8-0.2"')
    return v


class Sweep(Section):
    cells: UniqueList(Annotated[str, AfterValidator(_threshold_cell)])  # Figure 10: "delta_k-delta_uk" pairs
    known_ratio: UniqueList(Float(0.0, 1.0, lo_open=True, hi_open=True))
    known_weight: UniqueList(Float(0.0, 100.0, lo_open=True))
    thresholds: SweepThresholds
    seeds: UniqueList(Seed)
    budget: SweepBudget

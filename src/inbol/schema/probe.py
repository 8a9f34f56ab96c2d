"""The ``probe`` section: the linear / MLP probe of the model's hidden states."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, model_validator

from .core import Device, DType, Float, NonNegFloat, OptInt, PosInt, Section, Seed, _fail


def _two(v: list[int]) -> list[int]:
    if len(v) != 2:
        raise _fail("must be two integers >= 1 (the hidden layers of the three-layer classifier)")
    return v


class Probe(Section):
    max_conf: Float(0.0, 1.0, hi_open=True)  # an answerable question is an (intrinsic) unknown if conf <= max_conf
    train_per_class: OptInt(1)  # null: all the smaller class has
    test_per_class: OptInt(1)
    min_per_class: PosInt  # fewer available in a class of either split is an error
    hidden_sizes: Annotated[list[PosInt], AfterValidator(_two)]  # the MLP's two hidden layers
    epochs: PosInt
    lr: Float(0.0, 10.0, lo_open=True)
    weight_decay: NonNegFloat
    logreg_l2: NonNegFloat
    control_repeats: PosInt
    batch_size: PosInt
    seed: Seed
    device: Device
    dtype: DType

    @model_validator(mode="after")
    def _caps(self):
        for key in ("train_per_class", "test_per_class"):
            v = getattr(self, key)
            if v is not None and v < self.min_per_class:
                raise _fail(f"must be >= {{p}}min_per_class ({self.min_per_class}) or null", key, v)
        return self

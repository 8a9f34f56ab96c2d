"""The ``lora`` and ``train`` sections: every training stage's adapter and optimisation."""

from __future__ import annotations

from pydantic import model_validator

from ..errors import ParamError
from .core import (
    DType,
    Float,
    LearningRate,
    ModuleName,
    Name,
    OptInt,
    PosFloat,
    PosInt,
    Scheduler,
    Section,
    UniqueList,
    _fail,
)


class Lora(Section):
    r: PosInt
    alpha: PosFloat
    dropout: Float(0.0, 1.0, hi_open=True)
    target_modules: UniqueList(ModuleName)  # linear layers of the language model that get an adapter
    modules_to_save: UniqueList(ModuleName, nonempty=False)  # trained in full next to the adapter


class Train(Section):
    """Optimisation shared by IDK-IT and SFT (and by the preference stages, see ``dpo``).  ``batch_size`` is
    the effective batch: per-device batch x grad_accum x processes."""

    lr: LearningRate
    batch_size: PosInt
    epochs: PosFloat
    max_steps: OptInt(1)  # set: stop after this many optimiser steps (overrides epochs)
    grad_accum: PosInt
    warmup_ratio: Float(0.0, 1.0, hi_open=True)
    scheduler: Scheduler
    save_steps: PosInt  # checkpoint interval (resume after a kill)
    logging_steps: PosInt
    activation_checkpointing: bool
    dtype: DType  # the weights from load to save (auto: bfloat16 on a CUDA device with bf16, else float32)
    launcher: Name  # the accelerate config dvc.yaml launches every training stage with

    @model_validator(mode="after")
    def _accum(self):
        if self.batch_size % self.grad_accum:
            raise _fail(f"must divide {{p}}batch_size ({self.batch_size})", "grad_accum", self.grad_accum)
        return self

    def per_device_batch(self, num_processes: int) -> int:
        """batch_size / (grad_accum x processes); a ParamError when that is not a whole number."""
        denom = self.grad_accum * num_processes
        if self.batch_size % denom:
            raise ParamError(
                f"train.batch_size = {self.batch_size}: must be a multiple of grad_accum x processes "
                f"({self.grad_accum} x {num_processes})"
            )
        return self.batch_size // denom

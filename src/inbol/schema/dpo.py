"""The ``dpo`` section: CA-DPO and plain DPO."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

from .core import ModuleName, NonNegFloat, OptFloat, PosFloat, Section, _opt_unique
from .training import Train


class DPO(Section):
    """CA-DPO and plain DPO: ``beta``, and overrides of ``train.lr`` / ``train.epochs`` and of
    ``lora.modules_to_save`` (null: inherit; ``[]``: LoRA only, the LM head stays the IDK-IT model's)."""

    beta: PosFloat
    lr: OptFloat(0.0, 1.0, lo_open=True)
    epochs: OptFloat(0.0, lo_open=True)
    modules_to_save: Annotated[list[ModuleName] | None, AfterValidator(_opt_unique)]  # null: lora's

    def apply(self, train: Train) -> Train:
        """``train`` with this section's overrides."""
        return train.replace(**{k: getattr(self, k) for k in ("lr", "epochs") if getattr(self, k) is not None})


class CADPO(Section):
    """``ca_dpo``: options of the CA-DPO loss only (plain DPO and its variants ignore them).

    ``sft_weight`` alpha adds ``alpha * NLL`` of the chosen responses (RPO, TRL's ``rpo_alpha``): per question the
    mean over its answer tokens of -log pi(y_w), conf-weighted over the two pairs like equation (6); 0 is the
    paper's loss exactly."""

    sft_weight: NonNegFloat

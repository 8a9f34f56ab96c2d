"""Typed parameters of the training stages (paper section 3.3 and appendix E).

Three sections of params.yaml, each read only by the stages that need it:

- ``lora``  (every training stage): rank, alpha, dropout and the names of the language model's linear
  layers that get an adapter (the vision tower and the projector never do);
- ``train`` (every training stage): optimisation shared by IDK-IT, SFT, CA-DPO and plain DPO;
- ``dpo``   (``train_ca_dpo`` and ``train_dpo@N``): beta, and optional overrides of ``train.lr`` /
  ``train.epochs`` for the preference stages (``null`` = inherit from ``train``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import check, check_choice, check_range

LLAMA_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
SCHEDULERS = ("cosine", "linear", "constant", "constant_with_warmup")


@dataclass(frozen=True)
class LoraParams:
    """``lora.*``: LoRA on the language model's linear layers (paper: r 16, alpha 32).  ``modules_to_save``
    (PEFT) trains whole modules next to the adapter; the embedded default trains the tiny model's
    embeddings and LM head, whose rows for the refusal words were never trained in pretraining."""
    r: int = 16
    alpha: float = 32.0
    dropout: float = 0.05
    target_modules: tuple[str, ...] = LLAMA_LINEAR
    modules_to_save: tuple[str, ...] = ()   # trained in full next to the adapter, e.g. [lm_head, embed_tokens]

    def validate(self, prefix: str = "lora") -> None:
        check(self.r >= 1, f"{prefix}.r", self.r, "must be an integer >= 1")
        check_range(f"{prefix}.alpha", self.alpha, 0.0, None, lo_open=True)
        check_range(f"{prefix}.dropout", self.dropout, 0.0, 1.0, hi_open=True)
        check(len(self.target_modules) >= 1 and all(isinstance(t, str) and t.strip() and "." not in t
                                                    for t in self.target_modules),
              f"{prefix}.target_modules", list(self.target_modules),
              "must be a non-empty list of module names such as q_proj, v_proj (no dots)")
        check(all(isinstance(t, str) and t.strip() and "." not in t for t in self.modules_to_save),
              f"{prefix}.modules_to_save", list(self.modules_to_save),
              "must be a list of module names such as lm_head, embed_tokens (no dots); [] for plain LoRA")


@dataclass(frozen=True)
class TrainParams:
    """``train.*``: shared optimisation settings.  ``batch_size`` is the effective (global) batch: each
    step sees batch_size examples = per-device batch x grad_accum x number of processes."""
    lr: float = 2e-4
    batch_size: int = 16
    epochs: float = 1.0
    max_steps: int | None = None      # set: stop after this many optimiser steps (overrides epochs)
    grad_accum: int = 1
    seed: int = 0
    warmup_ratio: float = 0.03
    scheduler: str = "cosine"
    save_steps: int = 50              # checkpoint interval (resume after a kill)
    logging_steps: int = 5
    activation_checkpointing: bool = False

    def validate(self, prefix: str = "train") -> None:
        check_range(f"{prefix}.lr", self.lr, 0.0, 1.0, lo_open=True)
        check(self.batch_size >= 1, f"{prefix}.batch_size", self.batch_size, "must be an integer >= 1")
        check_range(f"{prefix}.epochs", self.epochs, 0.0, None, lo_open=True)
        if self.max_steps is not None:
            check(self.max_steps >= 1, f"{prefix}.max_steps", self.max_steps, "must be null or an integer >= 1")
        check(self.grad_accum >= 1, f"{prefix}.grad_accum", self.grad_accum, "must be an integer >= 1")
        check(self.batch_size % self.grad_accum == 0, f"{prefix}.grad_accum", self.grad_accum,
              f"must divide {prefix}.batch_size ({self.batch_size})")
        check(self.seed >= 0, f"{prefix}.seed", self.seed, "must be an integer >= 0")
        check_range(f"{prefix}.warmup_ratio", self.warmup_ratio, 0.0, 1.0, hi_open=True)
        check_choice(f"{prefix}.scheduler", self.scheduler, SCHEDULERS)
        check(self.save_steps >= 1, f"{prefix}.save_steps", self.save_steps, "must be an integer >= 1")
        check(self.logging_steps >= 1, f"{prefix}.logging_steps", self.logging_steps, "must be an integer >= 1")

    def per_device_batch(self, num_processes: int, prefix: str = "train") -> int:
        """batch_size / (grad_accum x processes); a ParamError when that is not a whole number."""
        denom = self.grad_accum * num_processes
        check(self.batch_size % denom == 0, f"{prefix}.batch_size", self.batch_size,
              f"must be a multiple of grad_accum x processes ({self.grad_accum} x {num_processes})")
        return self.batch_size // denom


@dataclass(frozen=True)
class DPOParams:
    """``dpo.*``: CA-DPO / plain DPO.  ``beta`` is the DPO temperature; ``lr``/``epochs`` override the
    ``train`` values for the preference stages when set."""
    beta: float = 0.1
    lr: float | None = None
    epochs: float | None = None

    def validate(self, prefix: str = "dpo") -> None:
        check_range(f"{prefix}.beta", self.beta, 0.0, None, lo_open=True)
        if self.lr is not None:
            check_range(f"{prefix}.lr", self.lr, 0.0, 1.0, lo_open=True)
        if self.epochs is not None:
            check_range(f"{prefix}.epochs", self.epochs, 0.0, None, lo_open=True)

    def apply(self, train: TrainParams) -> TrainParams:
        """``train`` with this section's overrides applied."""
        changes = {k: getattr(self, k) for k in ("lr", "epochs") if getattr(self, k) is not None}
        return dataclasses.replace(train, **changes)

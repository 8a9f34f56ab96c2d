"""Every use of TRL's (and transformers') internals, in one place, for the versions this project is tested on.

``CADPOTrainer`` subclasses ``trl.DPOTrainer`` and needs a few things that are not TRL's public API.  They
change between minor versions (TRL 1.10 lacks some), so pyproject pins ``trl`` and ``transformers`` to the
tested minor versions and :func:`check_versions` fails at import with one line when another one is
installed.  What is used, and why:

- ``DPOTrainer._compute_loss(model, inputs, return_outputs)``: the per-batch loss hook that
  ``compute_loss`` calls; CA-DPO replaces it (:data:`LOSS_HOOK`); plain DPO calls TRL's own
  (:func:`trl_loss`) with a batch in its layout (chosen rows, then rejected rows; ``ref_chosen_logps`` and
  ``ref_rejected_logps`` when ``precompute_ref_logps`` is set), so ``DPOConfig.loss_type`` applies.
- ``DPOTrainer._metrics[mode][key]`` (lists averaged and logged by TRL), ``_total_train_tokens`` and
  ``_tp_size``: TRL's metric logging, so CA-DPO logs ``rewards/*`` and ``logps/*`` like stock DPO
  (:func:`log_metric`, :func:`count_tokens`).
- ``Trainer._signature_columns``: the dataset columns the trainer keeps (:func:`set_signature_columns`).
- ``model(..., labels=..., fused_lm_head=True)``: TRL's fused LM head (per-token log-probs without the
  logits), which DPOTrainer installs on the model (:func:`token_logps`).
- ``trl.trainer.utils.flush_left``, ``trl.trainer.utils.use_adapter`` (run the PEFT model with its
  adapter disabled: the reference), ``trl.models.utils.disable_gradient_checkpointing`` and
  ``trl.models.prepare_deepspeed``.
"""

from __future__ import annotations

import importlib.metadata

TESTED = {"trl": "1.16", "transformers": "5.24"}  # minor versions (pyproject pins the same)


def check_versions(installed: dict[str, str] | None = None) -> None:
    """An ImportError (one line) unless the installed trl/transformers are the tested minor versions."""
    for pkg, minor in TESTED.items():
        version = (installed or {}).get(pkg) or importlib.metadata.version(pkg)
        if not (version == minor or version.startswith(minor + ".")):
            raise ImportError(
                f"{pkg} {version} is installed; inbol.training is tested with {pkg} {minor}.x "
                f"(pip install '{pkg}=={minor}.*'; TRL internals it uses: inbol/training/trl_compat.py)"
            )


check_versions()

from trl.models import prepare_deepspeed  # noqa: E402
from trl.models.utils import disable_gradient_checkpointing  # noqa: E402
from trl.trainer.utils import flush_left, use_adapter  # noqa: E402

LOSS_HOOK = "_compute_loss"


def install_loss(cls, method_name: str):
    """Make ``cls.<method_name>`` the trainer's per-batch loss hook (class decorator helper)."""
    setattr(cls, LOSS_HOOK, getattr(cls, method_name))
    return cls


def trl_loss(trainer, model, inputs: dict, return_outputs: bool):
    """TRL's own DPO loss (every ``DPOConfig.loss_type``) of one batch in TRL's layout."""
    from trl import DPOTrainer

    return getattr(DPOTrainer, LOSS_HOOK)(trainer, model, inputs, return_outputs)


def set_signature_columns(trainer, columns: list[str]) -> None:
    if trainer._signature_columns is None:
        trainer._signature_columns = list(columns)


def log_metric(trainer, mode: str, key: str, value: float) -> None:
    trainer._metrics[mode][key].append(value)


def count_tokens(trainer, mode: str, n_tokens: int) -> None:
    """Add ``n_tokens`` (all processes) to TRL's ``num_tokens`` counter, as stock DPO does."""
    if mode == "train":
        trainer._total_train_tokens += n_tokens // trainer._tp_size
    trainer._metrics[mode]["num_tokens"] = [trainer._total_train_tokens]


def token_logps(model, model_kwargs: dict, labels):
    """The model's outputs with ``log_probs`` (per token, zero where labels are -100) and ``entropy``."""
    return model(**model_kwargs, labels=labels, fused_lm_head=True)


__all__ = [
    "TESTED",
    "check_versions",
    "LOSS_HOOK",
    "install_loss",
    "trl_loss",
    "set_signature_columns",
    "log_metric",
    "count_tokens",
    "token_logps",
    "flush_left",
    "use_adapter",
    "disable_gradient_checkpointing",
    "prepare_deepspeed",
]

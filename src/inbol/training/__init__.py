"""Training for information-boundary awareness (paper section 3.3, appendix E): IDK instruction tuning
and the SFT baseline (:mod:`.sft`, TRL ``SFTTrainer``), CA-DPO and plain DPO (:mod:`.ca_dpo`, a TRL
``DPOTrainer`` subclass with the confidence-weighted loss of equation 6), all with LoRA on the language
model (:mod:`.lora`).  TRL internals are used in :mod:`.trl_compat` only.  See docs/training.md."""

from .ca_dpo import REF_COLUMNS, CADPOCollator, CADPOTrainer, ca_dpo_loss, train_preference
from .data import preference_dataset, read_records, sft_dataset
from .lora import language_model_prefix, lora_config, merge_adapter
from .runtime import (
    CheckpointDir,
    check_launch,
    check_launcher,
    hardware,
    is_main_process,
    publish_dir,
    wait_for_everyone,
)
from .sft import save_outputs, train_sft

__all__ = [
    "CADPOCollator",
    "CADPOTrainer",
    "REF_COLUMNS",
    "ca_dpo_loss",
    "train_preference",
    "preference_dataset",
    "read_records",
    "sft_dataset",
    "language_model_prefix",
    "lora_config",
    "merge_adapter",
    "CheckpointDir",
    "check_launch",
    "check_launcher",
    "wait_for_everyone",
    "hardware",
    "is_main_process",
    "publish_dir",
    "save_outputs",
    "train_sft",
]

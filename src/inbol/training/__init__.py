"""Training for information-boundary awareness (paper section 3.3, appendix E): IDK instruction tuning
and the SFT baseline (:mod:`.sft`, TRL ``SFTTrainer``), CA-DPO and plain DPO (:mod:`.ca_dpo`, a TRL
``DPOTrainer`` subclass with the confidence-weighted loss of equation 6), all with LoRA on the language
model (:mod:`.lora`).  TRL internals are used in :mod:`.trl_compat` only.  See docs/training.md.

Import from the submodules: this ``__init__`` imports none of them, so that a stage depends only on the
training code it runs (the SFT stages not on CA-DPO's)."""

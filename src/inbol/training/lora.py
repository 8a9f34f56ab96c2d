"""LoRA on the language model only (paper appendix E: r 16, alpha 32), and the merged model.

``lora.target_modules`` names linear layers (``q_proj`` ... ``down_proj`` of a Llama decoder); they are
matched only under the language model's module path (``model.language_model`` in transformers 5's
LLaVA), so CLIP's ``q_proj``/``k_proj``/``v_proj`` in the vision tower and the projector stay frozen.
PEFT gets that as one anchored regular expression, which is also what the saved adapter config records.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel

from ..errors import DataError, ParamError
from ..schema.training import Lora


def language_model_prefix(model) -> str:
    """Module path of the model's language model (its decoder), e.g. ``model.language_model``."""
    decoder = model.get_decoder() if hasattr(model, "get_decoder") else None
    if decoder is not None:
        for name, module in model.named_modules():
            if module is decoder and name:
                return name
    for name, _ in model.named_modules():  # fallback: the usual attribute names
        if name.endswith("language_model") or name == "model":
            return name
    raise DataError(f"{type(model).__name__}: cannot find the language model to attach LoRA to")


def target_regex(prefix: str, targets) -> str:
    return rf"{re.escape(prefix)}\.(?:.*\.)?(?:{'|'.join(re.escape(t) for t in targets)})"


def lora_config(params: Lora, model, prefix: str = "lora") -> LoraConfig:
    """The PEFT config of ``params`` for ``model``; a ParamError naming the first target that matches no
    linear layer of the language model."""
    lm = language_model_prefix(model)
    linear = [n for n, m in model.named_modules() if isinstance(m, torch.nn.Linear) and n.startswith(lm + ".")]
    available = sorted({n.rsplit(".", 1)[-1] for n in linear})
    for t in params.target_modules:
        if not any(n.endswith("." + t) for n in linear):
            raise ParamError(
                f"{prefix}.target_modules = {list(params.target_modules)!r}: {t!r} matches no linear "
                f"layer of the language model ({lm}); available: {', '.join(available)}"
            )
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules() if n}
    for t in params.modules_to_save:
        if t not in names:
            raise ParamError(
                f"{prefix}.modules_to_save = {list(params.modules_to_save)!r}: {t!r} is no module of "
                f"{type(model).__name__} (e.g. lm_head, embed_tokens)"
            )
    return LoraConfig(
        r=params.r,
        lora_alpha=params.alpha,
        lora_dropout=params.dropout,
        target_modules=target_regex(lm, params.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
        modules_to_save=list(params.modules_to_save) or None,
        ensure_weight_tying=bool(params.modules_to_save),
    )


def merge_adapter(
    start_model: str | Path, adapter_dir: str | Path, out_dir: str | Path, dtype: str = "float32"
) -> None:
    """Load the starting model (on the CPU, in ``dtype``: the training dtype, so no fp32 copy of bf16
    weights), apply the saved adapter, merge it and save model + processor in ``out_dir`` in ``dtype`` (HF
    format: later stages load it with ``from_pretrained``).  Reloading from disk makes this independent of
    how training held the weights (one device or DDP)."""
    from ..models.base import load_base

    base, processor = load_base(start_model, device="cpu", dtype=dtype)
    merged = PeftModel.from_pretrained(base, str(adapter_dir)).merge_and_unload()
    merged.save_pretrained(str(out_dir))
    processor.save_pretrained(str(out_dir))

"""IDK instruction tuning (IDK-IT, paper section 3.3) and the SFT baseline (section 4.1.2): LoRA
supervised tuning of the LLaVA model with TRL's ``SFTTrainer`` on vision prompt-completion data.

Path: TRL's own vision path.  The dataset has an ``image`` column (decoded by ``datasets.Image``) and
``prompt``/``completion`` strings rendered by the model's chat template (:mod:`inbol.training.data`), so
``SFTTrainer`` uses its ``DataCollatorForVisionLanguageModeling``: the processor expands ``<image>`` into
the vision tower's patch tokens and builds ``pixel_values``; labels are -100 on the prompt (loss on the
completion only, ``completion_only_loss=True``) and on padding.  With the tiny LlavaProcessor this gives
exactly the ``input_ids``/``labels`` of the pretraining's ``encode_example`` (a test checks it), so no
custom collator is needed.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from transformers import set_seed
from trl import SFTConfig, SFTTrainer

from ..models.base import load_base
from ..models.prompt import PromptFormat
from ..schema.training import Lora, Train
from .data import sft_dataset
from .lora import lora_config, merge_adapter
from .runtime import (
    CheckpointDir,
    check_launch,
    checkpoint_step,
    device,
    file_digest,
    fingerprint,
    last_mean,
    live_callback,
    model_stamp,
    summary,
    timed_train,
    train_dtype,
    trainer_kwargs,
)

ADAPTER = "adapter"


def save_outputs(trainer, start_model: str | Path, out_dir: str | Path, dtype: str = "float32") -> None:
    """The LoRA adapter (of the start model) in ``out_dir/adapter`` (what a server serves, combined with the
    start model's adapters by :func:`inbol.serve.combine_adapters`) and the merged model (in ``dtype``) +
    processor at the top of ``out_dir``; only the main process writes."""
    adapter = Path(out_dir) / ADAPTER
    trainer.save_model(str(adapter))  # Trainer.save_model: only the main process writes
    if trainer.accelerator.is_main_process:
        merge_adapter(start_model, adapter, out_dir, dtype)
    trainer.accelerator.wait_for_everyone()


def train_sft(
    data: str | Path,
    start_model: str | Path,
    out_dir: str | Path,
    *,
    lora: Lora,
    train: Train,
    seed: int,
    work_dir: str | Path,
    system: str | None = None,
    live_dir: str | Path | None = None,
    name: str = "idk_it",
    callbacks=(),
) -> dict:
    """LoRA-tune ``start_model`` on the prompt/completion records of ``data``; write the adapter and the
    merged model to ``out_dir``; return the metrics.  Resumes from ``work_dir``'s last checkpoint when a
    previous run with the same params/data/model was interrupted."""
    check_launch(train)  # ParamError: several GPUs for one process, or a batch that does not divide
    dtype = train_dtype(train)
    set_seed(seed)
    model, processor = load_base(start_model, device=device(), dtype=dtype)  # DataError if unloadable
    ds = sft_dataset(data, PromptFormat(processor, system))  # DataError if empty/bad
    peft_config = lora_config(lora, model)  # ParamError if no match
    ckpt = CheckpointDir(
        work_dir,
        fingerprint(
            stage=name,
            lora=lora,
            train=train,
            seed=seed,
            system=system,
            data=file_digest(data),
            start=model_stamp(start_model),
        ),
    )
    resume = ckpt.prepare()
    args = SFTConfig(**trainer_kwargs(train, work_dir, seed), completion_only_loss=True, max_length=None)
    cbs = [c for c in (live_callback(live_dir, checkpoint_step(resume)), *callbacks) if c is not None]
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=ds, processing_class=processor, peft_config=peft_config, callbacks=cbs
    )
    result, seconds = timed_train(trainer, resume, train)
    save_outputs(trainer, start_model, out_dir, dtype)
    metrics = summary(trainer, result, seconds, len(ds), resume)
    metrics.update(
        stage=name,
        seed=seed,
        start_model=str(start_model),
        buckets=dict(sorted(Counter(ds["bucket"]).items())),
        mean_token_accuracy=last_mean(trainer.state.log_history, "mean_token_accuracy"),
    )
    ckpt.finish()
    return metrics

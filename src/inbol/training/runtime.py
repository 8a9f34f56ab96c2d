"""What every training stage shares: hardware-derived precision, TRL config arguments, the resumable
checkpoint directory, dvclive logging, the multi-process-safe output directory and the metrics summary.

Precision and device come from the hardware, never from a hard-coded choice: on CUDA bf16 mixed
precision when supported (else fp16), on Apple MPS fp32, on a machine without an accelerator fp32 with
``use_cpu=True`` (TRL 1.x configs default to ``bf16=True``, which fails there).  The weights are loaded in
``train.dtype`` (``auto``: bf16 on a CUDA device that supports it, else fp32) and stay so from load to
save: the frozen weights are never copied to fp32; PEFT keeps the LoRA weights fp32.

Processes: the Trainer wraps a model in ``nn.DataParallel`` when one process sees several GPUs (the batch
then grows by the GPU count and the run takes that many times fewer steps).  :func:`check_launch` refuses
that, and any process count that disagrees with the visible GPUs, before any work; ``train.launcher`` is the
accelerate config that dvc.yaml launches every training stage with (:func:`check_launcher`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import shutil
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import torch
from accelerate import PartialState
from transformers.trainer_utils import get_last_checkpoint

from ..errors import ParamError
from ..io import atomic_dir
from ..live import live_callback, trim_live  # noqa: F401  (re-exported: the trainers log through it)
from ..schema.training import Train

FINGERPRINT = "fingerprint.json"


def hardware() -> dict:
    """``{device, use_cpu, bf16, fp16}`` for this machine."""
    if torch.cuda.is_available():
        bf16 = torch.cuda.is_bf16_supported()
        return {"device": "cuda", "use_cpu": False, "bf16": bf16, "fp16": not bf16}
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return {"device": "mps", "use_cpu": False, "bf16": False, "fp16": False}
    return {"device": "cpu", "use_cpu": True, "bf16": False, "fp16": False}


def state() -> PartialState:
    """The process layout, initialised the way ``TrainingArguments`` will (``cpu=True`` without an
    accelerator, else accelerate would not see a ``torchrun``/``accelerate launch`` CPU group)."""
    return PartialState(cpu=hardware()["use_cpu"])


def is_main_process() -> bool:
    return state().is_main_process


def wait_for_everyone() -> None:
    state().wait_for_everyone()


def device() -> str:
    """This process's device (``cuda:<local rank>`` under a multi-GPU launch): models load straight onto it."""
    return str(state().device)


def visible_gpus() -> int:
    """The CUDA devices this process sees (``CUDA_VISIBLE_DEVICES`` applied); 0 without CUDA."""
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def launch_error(processes: int, gpus: int) -> str | None:
    """Why ``processes`` training processes on a machine with ``gpus`` visible GPUs would not train with
    the params' batch on one GPU each; None when they would."""
    if gpus > 1 and processes == 1:
        return (
            f"one training process sees {gpus} GPUs: the Trainer would wrap the model in nn.DataParallel "
            f"(batch x{gpus}, {gpus}x fewer steps); launch with train.launcher = configs/accelerate/multi_gpu.yaml "
            f"(num_processes: {gpus}) or make one GPU visible (CUDA_VISIBLE_DEVICES=0)"
        )
    if gpus and processes != gpus:
        return (
            f"{processes} training processes but {gpus} visible GPU(s): set num_processes in the accelerate "
            f"config (train.launcher) to {gpus}, or CUDA_VISIBLE_DEVICES to {processes} GPU(s)"
        )
    return None


def check_launch(train: Train) -> int:
    """The per-device batch of ``train`` under this launch; a ParamError (one line) when one process
    would drive several GPUs, the process count differs from the visible GPUs, or ``train.batch_size`` is
    no multiple of grad_accum x processes.  Call it before any work."""
    n = state().num_processes
    error = launch_error(n, visible_gpus())
    if error:
        raise ParamError(error)
    return train.per_device_batch(n)


def check_launcher(path: str | Path) -> dict:
    """The accelerate config ``path`` (``train.launcher``), checked against the visible GPUs and against the
    processes that were actually launched: a ParamError (one line) naming the disagreement."""
    import yaml

    path = Path(path)
    try:
        cfg = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise ParamError(f"train.launcher = {str(path)!r}: not a readable accelerate config ({type(e).__name__})")
    if not isinstance(cfg, dict) or not isinstance(cfg.get("num_processes", 1), int):
        raise ParamError(f"train.launcher = {str(path)!r}: not an accelerate config (no num_processes)")
    procs, gpus = int(cfg.get("num_processes", 1)), visible_gpus()
    on_cpu = bool(cfg.get("use_cpu")) or str(cfg.get("distributed_type", "NO")) in ("NO", "MULTI_CPU")
    if not gpus and procs > 1 and not on_cpu:
        raise ParamError(
            f"train.launcher = {str(path)!r}: {procs} GPU processes ({cfg.get('distributed_type')}) but no GPU "
            f"is visible; use configs/accelerate/single.yaml here"
        )
    error = launch_error(procs, gpus)
    if error:
        raise ParamError(f"train.launcher = {str(path)!r}: {error}")
    n = state().num_processes
    if n != procs:
        raise ParamError(
            f"train.launcher = {str(path)!r} says num_processes: {procs} but {n} process(es) run: launch the "
            f"stage with accelerate launch --config_file {path} (its dvc.yaml command)"
        )
    return cfg


def train_dtype(train: Train) -> str:
    """The dtype the model is loaded, trained (frozen weights) and saved in: ``train.dtype``, where
    ``auto`` is bfloat16 on a CUDA device that supports it, else float32."""
    if train.dtype != "auto":
        return train.dtype
    return "bfloat16" if hardware()["bf16"] else "float32"


def trainer_kwargs(train: Train, work_dir: str | Path, seed: int, *, resumable: bool = True) -> dict:
    """Keyword arguments of an ``SFTConfig`` / ``DPOConfig`` for ``train`` and ``seed`` (checkpoints in
    ``work_dir``)."""
    hw = hardware()
    return dict(
        output_dir=str(work_dir),
        learning_rate=train.lr,
        num_train_epochs=train.epochs,
        max_steps=train.max_steps if train.max_steps is not None else -1,
        per_device_train_batch_size=check_launch(train),
        gradient_accumulation_steps=train.grad_accum,
        warmup_steps=train.warmup_ratio,
        lr_scheduler_type=train.scheduler,
        seed=seed,
        data_seed=seed,
        logging_steps=train.logging_steps,
        logging_first_step=True,
        save_strategy="steps" if resumable else "no",
        save_steps=train.save_steps,
        save_total_limit=2,
        activation_checkpointing=train.activation_checkpointing,
        use_cpu=hw["use_cpu"],
        bf16=hw["bf16"],
        fp16=hw["fp16"],
        report_to="none",
        disable_tqdm=False,
        dataloader_num_workers=0,
    )


# ------------------------------------------------------------------------------------------------
# resumable checkpoints
# ------------------------------------------------------------------------------------------------


def _plain(obj):
    return obj.model_dump() if hasattr(obj, "model_dump") else obj


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def model_stamp(path: str | Path) -> list:
    """(name, size, mtime) of every file of a model folder: cheap, and any rewrite of it changes it."""
    path = Path(path)
    if not path.is_dir():
        return [str(path)]
    return sorted(
        [str(p.relative_to(path)), p.stat().st_size, p.stat().st_mtime_ns] for p in path.rglob("*") if p.is_file()
    )


def fingerprint(**parts) -> dict:
    """What a checkpoint depends on: the params, the data, the starting model and this library's code."""
    code = hashlib.sha256()
    for f in sorted(Path(__file__).parent.glob("*.py")):
        code.update(f.read_bytes())
    return json.loads(
        json.dumps({**{k: _plain(v) for k, v in parts.items()}, "code": code.hexdigest()}, sort_keys=True, default=str)
    )


class CheckpointDir:
    """The persistent work directory of one training stage (e.g. ``models/.ckpt/idk_it``).

    Trainer checkpoints (``checkpoint-<step>/``, every ``train.save_steps``) land here; a run killed
    mid-way resumes from the last one when the stage runs again with the same fingerprint (params, data,
    starting model, code).  A different fingerprint wipes the directory first, and a completed run
    removes it, so a stale checkpoint is never resumed."""

    def __init__(self, path: str | Path, fp: dict):
        self.path, self.fp = Path(path), fp

    def prepare(self) -> str | None:
        """The checkpoint to resume from, or None (fresh start).  Main process first, then the others."""
        st = state()
        with st.main_process_first():
            if st.is_main_process:
                stored = self.path / FINGERPRINT
                same = stored.exists() and json.loads(stored.read_text()) == self.fp
                if not same and self.path.exists():
                    shutil.rmtree(self.path)
                self.path.mkdir(parents=True, exist_ok=True)
                (self.path / FINGERPRINT).write_text(json.dumps(self.fp, indent=1, sort_keys=True))
            last = get_last_checkpoint(str(self.path)) if self.path.is_dir() else None
        return last

    def finish(self) -> None:
        st = state()
        st.wait_for_everyone()
        if st.is_main_process and self.path.exists():
            shutil.rmtree(self.path)


def checkpoint_step(checkpoint: str | None) -> int:
    return int(Path(checkpoint).name.rsplit("-", 1)[-1]) if checkpoint else 0


# ------------------------------------------------------------------------------------------------
# dvclive
# ------------------------------------------------------------------------------------------------


# ------------------------------------------------------------------------------------------------
# outputs
# ------------------------------------------------------------------------------------------------


@contextlib.contextmanager
def publish_dir(path: str | Path):
    """``atomic_dir(path)`` on the main process; a throw-away directory on the others (under
    ``accelerate launch`` every process runs the stage script, only the main one writes outputs)."""
    if is_main_process():
        with atomic_dir(path) as tmp:
            yield tmp
    else:
        with tempfile.TemporaryDirectory() as tmp:
            yield Path(tmp)


def write_training_set(path: str | Path, records: Iterable[dict]) -> Path:
    """``records`` as the JSONL training file ``path``, written by the main process (every process waits for
    it): a set built in memory (a sweep cell's, a search configuration's) before a route trains on it."""
    from ..io import write_jsonl

    path = Path(path)
    if is_main_process():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jsonl(path, records)
    wait_for_everyone()
    return path


def last_mean(history: Iterable[dict], key: str, n: int = 3) -> float | None:
    vals = [h[key] for h in history if key in h and isinstance(h[key], (int, float)) and math.isfinite(h[key])]
    return round(float(np.mean(vals[-n:])), 4) if vals else None


def summary(trainer, result, seconds: float, n_examples: int, resumed_from: str | None) -> dict:
    """metrics/train/<name>.json: final loss (mean of the last 3 logged), steps, time, ..."""
    hist = [h for h in trainer.state.log_history if "train_runtime" not in h]
    out = {
        "final_loss": last_mean(hist, "loss"),
        "train_loss": round(float(result.training_loss), 4),
        "steps": int(result.global_step),
        "epochs": round(float(trainer.state.epoch or 0.0), 3),
        "examples": n_examples,
        "train_seconds": round(seconds, 1),
        "resumed_from_step": checkpoint_step(resumed_from),
        "device": hardware()["device"],
        "processes": state().num_processes,
        "effective_batch_size": global_batch(trainer),
    }
    return out


def global_batch(trainer) -> int:
    """The examples per optimiser step the trainer really uses: its batch per process (x GPUs under
    nn.DataParallel) x grad_accum x processes."""
    return trainer.args.train_batch_size * trainer.args.gradient_accumulation_steps * state().num_processes


def check_global_batch(trainer, train: Train) -> None:
    """A ParamError when the trainer's global batch is not ``train.batch_size`` (before training)."""
    got = global_batch(trainer)
    if got != train.batch_size:
        raise ParamError(
            f"train.batch_size = {train.batch_size}: the trainer would use a global batch of {got} "
            f"({trainer.args.train_batch_size} per process x grad_accum {trainer.args.gradient_accumulation_steps} "
            f"x {state().num_processes} processes)"
        )


def timed_train(trainer, resume_from: str | None, train: Train | None = None):
    if train is not None:
        check_global_batch(trainer, train)
    t0 = time.time()
    result = trainer.train(resume_from_checkpoint=resume_from)
    return result, time.time() - t0

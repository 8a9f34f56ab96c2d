"""Step time of the CA-DPO trainer (reference log-probs precomputed once, stored as dataset columns)
against TRL's stock ``DPOTrainer`` (reference log-probs from a reference forward in every step: with a
LoRA policy, the policy with its adapter disabled), on the same preference pairs and the same LoRA model,
in one run.  A third row is the CA-DPO trainer with the per-step reference forward (``precompute_ref=
False``), to show where the difference comes from.

    python scripts/bench_ca_dpo.py                       # 96 pairs, batch 16, 8 timed steps, CPU/GPU as present
    python scripts/bench_ca_dpo.py --n 256 --batch-size 16 --steps 10 --model models/idk_it

The model is ``--model`` when given, else a fresh tiny LLaVA with the embedded default's architecture
(untrained: the speed is the same).  The pairs are rendered from a small synthetic world (questions of
its pool; chosen = the answer, rejected = a refusal), so the script needs no pipeline outputs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

from inbol.config import from_dict
from inbol.io import read_jsonl, write_jsonl

REFUSAL = "Sorry, I can not help with it."


def build(work: Path, n: int, model_path: str | None):
    from inbol.models import ArchConfig, build_processor, build_tiny_llava, train_tokenizer
    from inbol.models.base import tokenizer_texts
    from inbol.world import WorldConfig, build_world

    build_world(
        from_dict(
            WorldConfig,
            {"sizes": {"corpus": 60, "pool": n, "test": 1, "ood_hard": 1, "ood_phrasing": 1, "ood_choice": 1}},
            "world",
        ),
        work / "world",
    )
    pool = read_jsonl(work / "world" / "pool.jsonl")[:n]
    rows = [
        {
            "id": r["id"],
            "image": r["image"],
            "prompt": r["question"],
            "chosen": r["answers"][0],
            "rejected": REFUSAL,
            "bucket": "known",
            "weight": 1,
        }
        for r in pool
    ]
    write_jsonl(work / "pairs.jsonl", rows)
    if model_path is None:
        arch = from_dict(ArchConfig, {}, "arch")  # the embedded default's architecture
        tok = train_tokenizer(tokenizer_texts(read_jsonl(work / "world" / "corpus.jsonl")), arch.vocab_size)
        model = build_tiny_llava(arch, tok, 48, seed=0)
        proc = build_processor(tok, 48, arch.vision.patch_size)
        model.save_pretrained(work / "model")
        proc.save_pretrained(work / "model")
        model_path = str(work / "model")
    return work / "pairs.jsonl", model_path


def make_trainer(kind: str, pairs: Path, model_path: str, args, work: Path):
    from trl import DPOConfig, DPOTrainer

    from inbol.models import load_model
    from inbol.training import CADPOTrainer, LoraParams, TrainParams, lora_config, preference_dataset
    from inbol.training.runtime import trainer_kwargs

    torch.manual_seed(0)
    model, proc = load_model(model_path, device="cpu", dtype="float32")
    train = from_dict(TrainParams, {"batch_size": args.batch_size, "max_steps": 1, "lr": 1e-4}, "train")
    cfg = DPOConfig(
        **{**trainer_kwargs(train, work / kind, resumable=False), "disable_tqdm": True},
        beta=0.1,
        precompute_ref_log_probs=False,
        max_length=None,
    )
    peft = lora_config(from_dict(LoraParams, {}, "lora"), model)
    ds = preference_dataset(pairs, proc, "dpo")
    t0 = time.perf_counter()
    if kind == "stock":
        # TRL's own vision path: {image, prompt, chosen, rejected} strings, DataCollatorForVisionPreference
        ds = ds.map(lambda r: {"chosen": r["w1"], "rejected": r["l1"]}).select_columns(
            ["image", "prompt", "chosen", "rejected"]
        )
        trainer = DPOTrainer(model=model, args=cfg, train_dataset=ds, processing_class=proc, peft_config=peft)
    else:
        trainer = CADPOTrainer(
            model=model,
            args=cfg,
            train_dataset=ds,
            processing_class=proc,
            peft_config=peft,
            precompute_ref=(kind == "ca_dpo"),
        )
    setup = time.perf_counter() - t0
    trainer.create_optimizer()
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train's loop otherwise
    trainer.model.train()
    return trainer, setup


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def step(trainer, rows: list[int]) -> float:
    """One optimiser step as the Trainer runs it (collate, forward, backward, AdamW), in seconds."""
    sync()
    t0 = time.perf_counter()
    batch = trainer._prepare_inputs(trainer.data_collator([dict(trainer.train_dataset[i]) for i in rows]))
    trainer.training_step(trainer.model, batch)
    trainer.optimizer.step()
    trainer.optimizer.zero_grad(set_to_none=True)
    sync()
    return time.perf_counter() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=96, help="preference pairs")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--steps", type=int, default=8, help="timed optimiser steps per trainer (after --warmup)")
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--model", default=None, help="a saved LLaVA folder (default: a fresh tiny one)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    kinds = ("stock", "ca_dpo", "ca_dpo_per_step_ref")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        pairs, model_path = build(work, args.n, args.model)
        trainers = {k: make_trainer(k, pairs, model_path, args, work) for k in kinds}
        # interleaved rounds (stock, ca_dpo, per-step, stock, ...) on the same rows: a load change on a
        # shared machine hits all three alike
        g = torch.Generator().manual_seed(0)
        times: dict[str, list[float]] = {k: [] for k in kinds}
        for r in range(args.warmup + args.steps):
            rows = torch.randperm(args.n, generator=g)[: args.batch_size].tolist()
            for k in kinds:
                dt = step(trainers[k][0], rows)
                if r >= args.warmup:
                    times[k].append(dt)
    steps_per_epoch = -(-args.n // args.batch_size)
    rows = [
        {
            "kind": k,
            "step_s": statistics.median(times[k]),
            "mean_s": statistics.fmean(times[k]),
            "setup_s": trainers[k][1],
            "epoch_s": trainers[k][1] + steps_per_epoch * statistics.median(times[k]),
        }
        for k in kinds
    ]
    base = rows[0]["step_s"]
    labels = {
        "stock": "TRL DPOTrainer (stock, ref forward every step)",
        "ca_dpo": "CADPOTrainer (ref log-probs precomputed once)",
        "ca_dpo_per_step_ref": "CADPOTrainer, precompute off (ref forward every step)",
    }
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(
        f"\nDPO step time on {device} ({torch.get_num_threads()} threads), {args.n} pairs, batch {args.batch_size}, "
        f"median of {args.steps} interleaved steps after {args.warmup} warm-up steps"
    )
    print(f"{'trainer':56s} {'step s':>8s} {'mean s':>8s} {'vs stock':>9s} {'setup s':>8s} {'epoch s':>8s}")
    for r in rows:
        print(
            f"{labels[r['kind']]:56s} {r['step_s']:8.4f} {r['mean_s']:8.4f} {r['step_s'] / base:8.2f}x "
            f"{r['setup_s']:8.2f} {r['epoch_s']:8.2f}"
        )
    print(
        "(step = collate + forward + backward + AdamW; setup includes the precomputing trainer's one-time "
        "reference pass over all pairs; epoch s = setup + steps per epoch x step s, an estimate)"
    )


if __name__ == "__main__":
    sys.exit(main())

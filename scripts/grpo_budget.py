"""GRPO's training budget beside CA-DPO's, on one machine: time a few optimiser steps of each from the same start
model and data, and print a table of seconds per step, the projected training time per seed at params.yaml's
steps, and the approximate training compute (sequence passes and FLOPs).

    python scripts/grpo_budget.py --root DIR --seed 0 --steps 4

``DIR`` is a project folder after `dvc repro` (its ``data/constructed/s<seed>``, ``data/restructured/pool.jsonl``,
``data/unanswerable/kept.jsonl``, ``data/reference/s<seed>.json``, ``models/idk_it/s<seed>``); the params are this
checkout's params.yaml.  The models go to a temporary folder.  FLOPs: 2 x (parameters) per token of a forward
pass, 4 x for the backward pass (activations and the LoRA weights), over the prompt + completion tokens of each
sequence; CA-DPO's reference log-probs (one forward pass per sequence, the `reference` stage) are counted with it.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from inbol.markdown import table as md_table
from inbol.methods.spec import load
from inbol.params import load_params


def _tokens(root: Path, seed: int, start: Path) -> tuple[float, float, int]:
    """Mean prompt tokens (with the image's), mean answer tokens of the preference set, and the model's parameters."""
    from inbol.io import read_jsonl
    from inbol.models import PromptFormat, load_model

    model, proc = load_model(start, device="cpu", dtype="float32")
    fmt = PromptFormat(proc)
    tok = fmt.tokenizer
    recs = read_jsonl(root / f"data/constructed/s{seed}/preference.jsonl")[:200]
    n_image = int(getattr(model.config, "image_seq_length", 0) or 0)
    prompt = sum(len(tok(fmt.prompt(r["prompt"]))["input_ids"]) + n_image for r in recs) / len(recs)
    answers = [t for r in recs for p in ("p1", "p2") for t in (r[p]["chosen"], r[p]["rejected"])]
    answer = sum(len(tok(a, add_special_tokens=False)["input_ids"]) + 1 for a in answers) / len(answers)
    return prompt, answer, sum(p.numel() for p in model.parameters())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, default=4, help="optimiser steps timed per method")
    args = ap.parse_args()
    p = load_params()
    root, seed = args.root.resolve(), args.seed
    start = root / f"models/idk_it/s{seed}"
    data = root / f"data/constructed/s{seed}"
    pool = [root / "data/restructured/pool.jsonl", root / "data/unanswerable/kept.jsonl"]
    os.chdir(root)  # record image paths are relative to the project root
    from inbol.training.ca_dpo import train_preference
    from inbol.training.grpo import train_grpo

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        t0 = time.time()
        g = train_grpo(
            data / f"{load('grpo').data}.jsonl",
            pool,
            start,
            tmp / "grpo",
            grpo=p.grpo.replace(steps=args.steps),
            lora=p.lora,
            train=p.train,
            seed=seed,
            work_dir=tmp / "grpo-ckpt",
            system=p.prompt.system,
        )
        g_total = time.time() - t0
        t0 = time.time()
        d = train_preference(
            data / "preference.jsonl",
            start,
            tmp / "ca_dpo",
            kind="ca_dpo",
            loss_type="ca_dpo",
            lora=p.lora,
            train=p.dpo.apply(p.train).replace(max_steps=args.steps),
            dpo=p.dpo,
            seed=seed,
            work_dir=tmp / "dpo-ckpt",
            system=p.prompt.system,
            reference=root / f"data/reference/s{seed}.json",
            name="ca_dpo",
        )
        d_total = time.time() - t0
    prompt, answer, n_params = _tokens(root, seed, start)
    dpo_steps = -(-p.preference.size // p.train.batch_size) * int(p.dpo.apply(p.train).epochs)
    seq = prompt + answer
    gen = 2 * n_params * seq  # one sampled completion (the prompt once, then each new token with the KV cache)
    ref = 2 * n_params * seq if p.grpo.beta > 0 else 0.0
    grpo_flops = p.grpo.steps * p.grpo.batch_size * (gen + ref + 6 * n_params * seq)
    dpo_flops = dpo_steps * p.train.batch_size * 4 * (6 * n_params * seq + 2 * n_params * seq)
    for name, m, total, steps, flops, passes in (
        ("GRPO (S_trust reward)", g, g_total, p.grpo.steps, grpo_flops, p.grpo.batch_size * (5 if ref else 4)),
        ("CA-DPO", d, d_total, dpo_steps, dpo_flops, p.train.batch_size * 4 * 4),
    ):
        per_step = m["train_seconds"] / max(m["steps"], 1)
        rows.append(
            [
                name,
                m["steps"],
                f"{per_step:.2f}",
                f"{total - m['train_seconds']:.0f}",
                steps,
                f"{per_step * steps + total - m['train_seconds']:.0f}",
                passes * steps,
                f"{flops:.2e}",
            ]
        )
    head = ["method", "steps timed", "s/step", "load+save s", "steps/seed", "projected s/seed", "seq passes/seed"]
    print("\n".join(md_table([*head, "train FLOPs/seed"], [[str(c) for c in r] for r in rows])))
    print(
        f"\nparameters {n_params:,}; mean prompt {prompt:.0f} tokens (image included), answer {answer:.1f}; "
        f"GRPO reward mean over the timed steps {g['reward_mean']}, refusal share {g['refusal_share']}"
    )


if __name__ == "__main__":
    main()

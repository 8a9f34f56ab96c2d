"""Wall time of the four preference trainings of one seed (CA-DPO and DPO (1)(2)(3), Table 4), reference
passes included, three ways, on the pipeline's own data:

- ``stock``: TRL's ``DPOTrainer`` four times (its vision collator; a LoRA policy, so the reference is the
  policy with its adapter disabled, run in every step).  CA-DPO's two pairs per question enter as two rows
  (the stock trainer has no confidence weights: the speed is what is compared);
- ``own reference``: this project's trainer four times, each computing its reference log-probs once
  before training (``CADPOTrainer``'s precompute);
- ``shared reference``: one reference pass over every distinct sequence of the CA-DPO preferences
  (``write_reference``, the DAG's ``reference@seed`` stage), read by all four trainings (the default DAG).

Every run trains one epoch at the params' batch size and LoRA settings (``train``, ``dpo``, ``lora``).

    python scripts/bench_ca_dpo.py                          # data/constructed/s0 + models/idk_it/s0 (run dvc repro first)
    python scripts/bench_ca_dpo.py --seed 1 --limit 200     # another seed, 200 questions per set

Prints a table (seconds and the ratio to stock).  The issue's target: shared reference <= 0.75 x stock.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from inbol.io import read_jsonl, write_jsonl
from inbol.params import load_params

SETS = {
    "ca_dpo": ("ca_dpo", "preference"),
    "dpo_1": ("dpo", "dpo_1"),
    "dpo_2": ("dpo", "dpo_2"),
    "dpo_3": ("dpo", "dpo_3"),
}


def limited(src: Path, dst: Path, n: int | None) -> Path:
    rows = read_jsonl(src, nonempty=True)
    write_jsonl(dst, rows if n is None else rows[:n])
    return dst


def stock(data: Path, kind: str, start: str, p, work: Path) -> float:
    """One epoch of TRL's DPOTrainer on the set's (prompt, chosen, rejected) pairs, in seconds."""
    from trl import DPOConfig, DPOTrainer

    from inbol.models import PromptFormat, load_base
    from inbol.training.data import preference_dataset
    from inbol.training.lora import lora_config
    from inbol.training.runtime import trainer_kwargs

    t0 = time.perf_counter()
    model, proc = load_base(start, device="cpu", dtype="float32")
    ds = preference_dataset(data, PromptFormat(proc, p.prompt.system), kind)
    pairs = [("w1", "l1")] + ([("w2", "l2")] if kind == "ca_dpo" else [])
    rows = [
        {"image": r["image"], "prompt": r["prompt"], "chosen": r[w], "rejected": r[lo]} for r in ds for w, lo in pairs
    ]
    import datasets

    flat = datasets.Dataset.from_list(rows).cast_column("image", datasets.Image())
    train = p.dpo.apply(p.train)
    cfg = DPOConfig(
        **{**trainer_kwargs(train, work, 0, resumable=False), "disable_tqdm": True},
        beta=p.dpo.beta,
        precompute_ref_log_probs=False,
        max_length=None,
    )
    trainer = DPOTrainer(
        model=model, args=cfg, train_dataset=flat, processing_class=proc, peft_config=lora_config(p.lora, model)
    )
    trainer.train()
    return time.perf_counter() - t0


def ours(data: Path, kind: str, start: str, p, work: Path, reference: Path | None) -> float:
    from inbol.training.ca_dpo import train_preference

    t0 = time.perf_counter()
    train_preference(
        data,
        start,
        work / "out",
        kind=kind,
        lora=p.lora,
        train=p.train,
        dpo=p.dpo,
        seed=0,
        work_dir=work / "ckpt",
        system=p.prompt.system,
        reference=reference,
        diagnostics_n=1,
    )
    return time.perf_counter() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0, help="which seed's constructed data and IDK-IT model")
    ap.add_argument("--limit", type=int, default=None, help="at most this many questions per set")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    p = load_params()
    data_dir, start = Path(f"data/constructed/s{args.seed}"), f"models/idk_it/s{args.seed}"
    times: dict[str, dict[str, float]] = {"stock": {}, "own reference": {}, "shared reference": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = {
            name: limited(data_dir / f"{f}.jsonl", work / f"{f}.jsonl", args.limit) for name, (_, f) in SETS.items()
        }
        from inbol.training.ca_dpo import write_reference

        t0 = time.perf_counter()
        table = work / "reference.json"
        write_reference(
            files["ca_dpo"], start, table, lora=p.lora, train=p.train, dpo=p.dpo, seed=0, system=p.prompt.system
        )
        times["shared reference"]["reference pass"] = time.perf_counter() - t0
        for name, (kind, _) in SETS.items():
            times["stock"][name] = stock(files[name], kind, start, p, work / f"stock-{name}")
            times["own reference"][name] = ours(files[name], kind, start, p, work / f"own-{name}", None)
            times["shared reference"][name] = ours(files[name], kind, start, p, work / f"shared-{name}", table)
    total = {k: sum(v.values()) for k, v in times.items()}
    print(f"\nFour preference trainings of seed {args.seed} (one epoch each), {torch.get_num_threads()} threads")
    print(f"{'way':20s} " + " ".join(f"{c:>9s}" for c in ("ref pass", *SETS)) + f" {'total s':>9s} {'vs stock':>9s}")
    for way, row in times.items():
        cells = [row.get("reference pass"), *(row[n] for n in SETS)]
        print(
            f"{way:20s} "
            + " ".join(f"{'—':>9s}" if c is None else f"{c:9.1f}" for c in cells)
            + f" {total[way]:9.1f} {total[way] / total['stock']:8.2f}x"
        )


if __name__ == "__main__":
    main()

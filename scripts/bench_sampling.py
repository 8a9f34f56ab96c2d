"""Throughput of K-sample generation: the batched ``hf`` sampler (each image encoded and each prompt
prefilled once per question, K rows decoded from an expanded cache) against a naive loop (one ``generate``
call per response) and transformers' built-in ``num_return_sequences=K`` (one call per batch), on the same
model and questions, in one run.

    python scripts/bench_sampling.py                      # models/base and data/world/pool.jsonl, 200 questions
    python scripts/bench_sampling.py --n 20 --model path/to/model --questions path/to/questions.jsonl

Without ``models/base`` (or ``--model``) it builds a fresh tiny LLaVA (untrained: the speed is the same);
without the questions file it renders a small synthetic world in a temporary folder.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from inbol.io import read_jsonl
from inbol.models import PromptFormat, generate, load_base, pick_device
from inbol.params import load_params
from inbol.sampling import make_sampler
from inbol.seeding import stable_seed


def tiny_model(records: list[dict], image_size: int):
    from inbol.models import build_processor, build_tiny_llava, train_tokenizer
    from inbol.models.base import tokenizer_texts

    arch = load_params().base_model.arch  # the embedded default's architecture
    arch = arch.replace(vision={**arch.vision.model_dump(), "patch_size": 8})
    tok = train_tokenizer(tokenizer_texts(records), arch.vocab_size)
    return build_tiny_llava(arch, tok, image_size, seed=0), build_processor(tok, image_size, arch.vision.patch_size)


def load_questions(path: str | None, n: int, work: Path) -> list[dict]:
    default = Path("data/world/pool.jsonl")
    if path or default.is_file():
        return read_jsonl(path or default)[:n]
    from inbol.world import build_world

    cfg = load_params().world
    cfg = cfg.replace(sizes={"corpus": 50, "pool": n, "test": 1, "ood_hard": 1, "ood_phrasing": 1, "ood_choice": 1})
    build_world(cfg, work / "world")
    return read_jsonl(work / "world" / "pool.jsonl")[:n]


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=None, help="model folder (default: models/base if present, else a tiny model)")
    ap.add_argument("--questions", default=None, help="question JSONL (default: data/world/pool.jsonl)")
    ap.add_argument("--root", default=".", help="folder the questions' relative image paths start from")
    ap.add_argument("--n", type=int, default=200, help="number of questions")
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--batch-size", type=int, default=32, help="questions per batch (batched methods)")
    ap.add_argument("--max-new-tokens", type=int, default=12)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    ap.add_argument("--skip-naive", action="store_true", help="leave out the (slow) naive loop")
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    with tempfile.TemporaryDirectory() as work:
        records = load_questions(args.questions, args.n, Path(work))
        for r in records:
            if not Path(r["image"]).is_absolute():
                r["image"] = str(Path(args.root) / r["image"])
        model_path = args.model or ("models/base" if Path("models/base").is_dir() else None)
        if model_path:
            model, processor = load_base(model_path, args.device)
        else:
            from PIL import Image

            model, processor = tiny_model(records, Image.open(records[0]["image"]).size[0])
            model.to(pick_device(args.device)).eval()
            model_path = "(fresh tiny model)"
        cfg = load_params().sampling.replace(k=args.k, batch_size=args.batch_size, max_new_tokens=args.max_new_tokens)
        fmt = PromptFormat(processor)
        sampler = make_sampler(cfg, fmt, model=model)
        gen = dict(max_new_tokens=args.max_new_tokens, do_sample=True, temperature=cfg.temperature, progress=False)
        n, k, bs = len(records), args.k, args.batch_size

        def batched():
            for i in range(0, n, bs):
                chunk = records[i : i + bs]
                sampler.sample(chunk, [stable_seed(0, r["id"]) for r in chunk])

        def builtin():
            generate(model, processor, records, fmt=fmt, batch_size=bs, num_return_sequences=k, **gen)

        def naive():
            for r in records:
                for j in range(k):
                    generate(model, processor, [r], fmt=fmt, batch_size=1, num_return_sequences=1, seed=j, **gen)

        batched_warm = records[:2]
        sampler.sample(batched_warm, [1, 2])  # warm-up (allocations, kernels)
        rows = [
            ("hf sampler (encode + prefill once, batched)", timed(batched)),
            ("transformers num_return_sequences=K, batched", timed(builtin)),
        ]
        if not args.skip_naive:
            rows.append(("naive loop (one generate per response)", timed(naive)))

    dev = next(model.parameters()).device
    print(
        f"model: {model_path}   device: {dev}   torch threads: {torch.get_num_threads()}   "
        f"questions: {n}   K: {k}   batch: {bs}   max_new_tokens: {args.max_new_tokens}"
    )
    base = rows[-1][1]
    print(f"{'method':48s} {'responses':>9s} {'seconds':>8s} {'resp/s':>8s} {'speed-up':>8s}")
    for name, sec in rows:
        print(f"{name:48s} {n * k:9d} {sec:8.2f} {n * k / sec:8.1f} {base / sec:7.1f}x")


if __name__ == "__main__":
    sys.exit(main())

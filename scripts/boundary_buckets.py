"""Known / Mixed / Unknown shares of a model's answerable questions (a quick check of an original model).

    python scripts/boundary_buckets.py [--model models/base] [--split pool] [--k K] [--temperature T]
                                       [--limit N] [--max-new-tokens M] [--delta-k DK] [--delta-uk DUK]

K, T, M, DK and DUK default to params.yaml's sampling.k, sampling.temperature, sampling.max_new_tokens,
delta_k and delta_uk (the values the confidence stages use).

Samples K responses per question at the given temperature (the sampling stage's HF sampler and per-question
seeds), judges them by string matching (the judge stage's first pass) and prints the bucket shares overall
and per family.  Without writing anything: use it to try a base model before running the whole DAG.
"""

from __future__ import annotations

import argparse
import collections

from tqdm import tqdm

from inbol.boundary import bucket
from inbol.confidence import confidence
from inbol.io import read_jsonl
from inbol.judge import judge_samples
from inbol.models import PromptFormat, load_base
from inbol.params import load_params
from inbol.sampling import make_sampler
from inbol.seeding import stable_seed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="models/base")
    ap.add_argument("--world", default="data/world")
    ap.add_argument("--params", default="params.yaml", help="sampling seed and prompt from here")
    ap.add_argument("--split", default="pool")
    ap.add_argument("--k", type=int, default=None)
    ap.add_argument("--temperature", type=float, default=None)
    ap.add_argument("--limit", type=int, default=0, help="first N answerable questions (0: all)")
    ap.add_argument("--max-new-tokens", type=int, default=None)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--delta-k", type=float, default=None)
    ap.add_argument("--delta-uk", type=float, default=None)
    args = ap.parse_args()

    records = [r for r in read_jsonl(f"{args.world}/{args.split}.jsonl") if r.get("answers")]
    records = records[: args.limit] if args.limit else records
    model, processor = load_base(args.model)
    params = load_params(args.params)
    s = params.sampling
    args.k = s.k if args.k is None else args.k
    args.temperature = s.temperature if args.temperature is None else args.temperature
    args.max_new_tokens = s.max_new_tokens if args.max_new_tokens is None else args.max_new_tokens
    args.delta_k = params.delta_k if args.delta_k is None else args.delta_k
    args.delta_uk = params.delta_uk if args.delta_uk is None else args.delta_uk
    cfg = s.replace(k=args.k, temperature=args.temperature, max_new_tokens=args.max_new_tokens)
    sampler = make_sampler(cfg, PromptFormat(processor, params.prompt.system), model=model)
    counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for i in tqdm(range(0, len(records), args.batch_size), desc=f"sampling {args.split} (K={args.k})"):
        batch = records[i : i + args.batch_size]
        outs = sampler.sample(batch, [stable_seed(cfg.seed, r["id"]) for r in batch])
        for r, verdicts in zip(batch, judge_samples(batch, outs)):  # the judge stage's string matching
            conf = confidence([v == "correct" for v in verdicts])
            b = bucket(conf, args.delta_k, args.delta_uk)
            for key in ("all", r["meta"]["family"]):
                counts[key][b] += 1
    print(f"{'family':<12}{'n':>7}{'known':>9}{'mixed':>9}{'unknown':>9}")
    for key in ["all"] + sorted(k for k in counts if k != "all"):
        c, n = counts[key], sum(counts[key].values())
        print(f"{key:<12}{n:>7}" + "".join(f"{100 * c[b] / n:>8.1f}%" for b in ("known", "mixed", "unknown")))


if __name__ == "__main__":
    main()

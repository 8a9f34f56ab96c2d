"""Which part of the paper's refusal prompt costs an original model its accuracy?  Greedy accuracy per
in-domain family on the raw validation split (the first N questions of each family) with several suffixes:
none, the paper's refusal prompt, the prompt without its quoted refusal, the quote alone, one and two of the
corpus's instruction sentences (docs/world.md, "Why two sentences").  Validation only.

    python scripts/refusal_prompt_probe.py [--world data/world] [--model models/base] [--n 200]
"""

import argparse
import collections

import numpy as np

from inbol.io import read_jsonl
from inbol.judge import REFUSAL_PROMPT, judge_records
from inbol.models import PromptFormat, generate, load_base

SUFFIXES = {
    "none": "",
    "paper RP": " " + REFUSAL_PROMPT,
    "RP without the quote": " If you don't have enough information to answer the question, respond with a short answer.",
    "quote only": ' Respond with "Sorry, I can not help with it."',
    "two corpus suffixes": " If you have enough information, use the information in the image to answer the "
    "question. Please give a short answer.",
    "one corpus suffix": " Please give a short answer.",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--world", default="data/world")
    ap.add_argument("--model", default="models/base")
    ap.add_argument("--n", type=int, default=200)
    a = ap.parse_args()
    model, proc = load_base(a.model)
    fmt = PromptFormat(proc)
    by = collections.defaultdict(list)
    for r in read_jsonl(f"{a.world}/val.jsonl"):
        by[r["meta"]["family"]].append(r)
    print("| family | suffix | greedy Acc | RefR |\n|---|---|---:|---:|")
    for fam in ("perception", "emblem", "choice"):
        rs = by[fam][: a.n]
        for name, suffix in SUFFIXES.items():
            out = generate(
                model, proc, rs, fmt=fmt, batch_size=64, max_new_tokens=12, prompt_suffix=suffix, progress=False
            )
            v = judge_records(rs, [o[0] for o in out])
            acc, refr = np.mean([x == "correct" for x in v]), np.mean([x == "refusal" for x in v])
            print(f"| {fam} | {name} | {100 * acc:.1f} | {100 * refr:.1f} |", flush=True)


if __name__ == "__main__":
    main()

"""GRPO's start model and budget, chosen on validation: train GRPO (params.yaml's ``grpo`` section with each
candidate's changes) on one seed's questions and evaluate each trained model on the validation sets; print a
table of S_trust, accuracy and refusal rate (in domain + UaVQA) beside the start models' and CA-DPO's (when their
validation metrics are there).

    python scripts/grpo_validation.py --root DIR --seed 0 --candidates idk_it:60 base:60 idk_it:120

``DIR`` is a project folder after `dvc repro` (``data/constructed/s<seed>``, ``data/restructured/pool.jsonl``,
``data/unanswerable/kept.jsonl``, ``data/valsets``, ``models/base``, ``models/idk_it/s<seed>``,
``metrics/eval_val/``); a candidate is ``<start>:<steps>[:<temperature>]``.  The models go to a temporary folder;
nothing under ``DIR`` is written.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from inbol.markdown import table as md_table
from inbol.params import load_params


def _row(name: str, overall: dict, extra: str = "") -> list[str]:
    return [
        name,
        f"{overall['s_trust']:.1f}",
        f"{overall['acc']:.1f}",
        f"{overall['refr']:.1f}",
        str(overall["n"]),
        extra,
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, type=Path)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--candidates", nargs="+", default=["idk_it:60", "base:60"])
    args = ap.parse_args()
    p = load_params()
    root, seed = args.root.resolve(), args.seed
    os.chdir(root)  # record image paths are relative to the project root
    from inbol.evaluation import load_testsets
    from inbol.evaluation.evaluate import evaluate_answerer
    from inbol.judge.llm_judge import make_semantic_judge
    from inbol.serve import load_answerer
    from inbol.training.grpo import train_grpo

    valsets = load_testsets(root / "data/valsets")
    semantic = make_semantic_judge(p.judge)
    rows = []
    for ref in ("idk_it", "ca_dpo"):
        f = root / f"metrics/eval_val/{ref}-s{seed}.json"
        if f.is_file():
            rows.append(_row(f"{ref} (validation metrics of the run)", json.loads(f.read_text())["overall"]))
    with tempfile.TemporaryDirectory() as tmp:
        for cand in args.candidates:
            start, steps, *temp = cand.split(":")
            grpo = p.grpo.replace(steps=int(steps), **({"temperature": float(temp[0])} if temp else {}))
            out = Path(tmp) / cand.replace(":", "-")
            t0 = time.time()
            m = train_grpo(
                root / f"data/constructed/s{seed}/preference.jsonl",
                [root / "data/restructured/pool.jsonl", root / "data/unanswerable/kept.jsonl"],
                root / ("models/base" if start == "base" else f"models/idk_it/s{seed}"),
                out,
                grpo=grpo,
                lora=p.lora,
                train=p.train,
                seed=seed,
                work_dir=Path(tmp) / "ckpt" / out.name,
                system=p.prompt.system,
                semantic=semantic,
                lenient=p.judge.lenient,
            )
            train_s = time.time() - t0
            t0 = time.time()
            answerer = load_answerer(out, p, name="grpo", seed=seed)
            _, metrics = evaluate_answerer(
                answerer, valsets, semantic, lenient=p.judge.lenient, model="grpo", refusal_score=False
            )
            eval_s = time.time() - t0
            rows.append(
                _row(
                    f"GRPO from {start}, {steps} steps, T={grpo.temperature}",
                    metrics["overall"],
                    f"train {train_s:.0f} s, val eval {eval_s:.0f} s, reward mean {m['reward_mean']}, "
                    f"refusal share {m['refusal_share']}",
                )
            )
            print(rows[-1], flush=True)
    head = [f"model (validation, seed {seed})", "S_trust", "Acc", "RefR", "n", "notes"]
    print("\n".join(md_table(head, rows)))


if __name__ == "__main__":
    main()

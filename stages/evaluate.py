"""Stages `evaluate_baseline@<name>` and `evaluate@<name>-<seed>`: greedy answers of one model on every test
set, verdicts (hybrid evaluator in domain, string matching out of domain) and metrics.  `refusal_prompt`
is the original model with the paper's refusal prompt appended to each question.  With `sampling.backend:
openai` the answers (and P(refusal start), from the server's log-probs) come from the server's model of this
name and seed (a trained model's LoRA adapter, inbol.serve), checked to be listed before any work.

    python stages/evaluate.py --name idk_it --seed 0 --model models/idk_it/s0 --testsets data/testsets
        --predictions data/predictions/idk_it-s0.jsonl --metrics metrics/eval/idk_it-s0.json
"""

import argparse

from inbol.errors import ParamError, run_stage
from inbol.evaluation import check_model_dir, load_testsets, prompt_suffix
from inbol.evaluation.evaluate import evaluate_answerer
from inbol.io import write_json, write_jsonl
from inbol.judge.llm_judge import make_semantic_judge
from inbol.schema.core import load_sections
from inbol.schema.evaluate import Evaluate
from inbol.schema.judge import Judge
from inbol.schema.models import Models
from inbol.schema.prompt import Prompt
from inbol.schema.sampling import Sampling
from inbol.serve import load_answerer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--name", required=True)
    ap.add_argument("--seed", type=int, default=None, help="the training seed of a trained model")
    ap.add_argument("--model", required=True)
    ap.add_argument("--testsets", required=True)
    ap.add_argument("--predictions", required=True)
    ap.add_argument("--metrics", required=True)
    args = ap.parse_args()
    p = load_sections(evaluate=Evaluate, judge=Judge, models=Models, prompt=Prompt, sampling=Sampling)
    if args.name not in p.models.all():
        raise ParamError(f"--name {args.name!r}: must be one of the evaluated models ({', '.join(p.models.all())})")
    cfg, judge_cfg = p.evaluate, p.judge
    testsets = load_testsets(args.testsets)  # all inputs checked before the model is loaded
    check_model_dir(args.model, args.name)
    semantic = make_semantic_judge(judge_cfg)

    suffix = prompt_suffix(args.name)
    answerer = load_answerer(args.model, p, name=args.name, seed=args.seed)  # in process, or the server's model
    preds, metrics = evaluate_answerer(
        answerer,
        testsets,
        semantic,
        lenient=judge_cfg.lenient,
        model=args.name,
        prompt_suffix=suffix,
        refusal_score=True,
        extra=lambda served: {
            "seed": args.seed,
            "model_path": args.model,
            "refusal_prompt": bool(suffix),
            **({"served_model": served} if served else {}),
            "judge": {
                "in_domain": f"hybrid ({judge_cfg.backend})",
                "ood": "string matching",
                "extra": "string matching",
            },
        },
    )
    if cfg.vqa_accuracy:
        from inbol.judge.vqa_accuracy import add_vqa_accuracy

        metrics = add_vqa_accuracy(metrics, testsets, preds)
    write_jsonl(args.predictions, preds)
    write_json(args.metrics, metrics)


if __name__ == "__main__":
    run_stage(main)

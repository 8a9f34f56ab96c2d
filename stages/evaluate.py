"""Stage `evaluate@<model>`: greedy answers of one model on every test set, verdicts (hybrid evaluator in
domain, string matching out of domain) and metrics.  `refusal_prompt` is models/base with the paper's
refusal prompt appended to each question.

    python stages/evaluate.py <model>     (base, refusal_prompt, sft, idk_it, ca_dpo, dpo_1, dpo_2, dpo_3)
"""
import sys

from inbol.config import ParamError, load_section, run_stage
from inbol.evaluation import EvaluateConfig, check_model_dir, evaluate_model, hf_answer_fn, load_testsets, model_spec
from inbol.io import write_json, write_jsonl
from inbol.judge import JudgeConfig, make_semantic_judge

TESTSETS = "data/testsets"


def main() -> None:
    if len(sys.argv) != 2:
        raise ParamError(f"usage: python stages/evaluate.py <model> (got {sys.argv[1:]!r})")
    name = sys.argv[1]
    path, suffix = model_spec(name)
    cfg = load_section(EvaluateConfig, "evaluate")
    judge_cfg = load_section(JudgeConfig, "judge")
    testsets = load_testsets(TESTSETS)          # all inputs checked before the model is loaded
    check_model_dir(path, name)
    semantic = make_semantic_judge(judge_cfg)

    from inbol.models import load_base

    model, processor = load_base(path, cfg.device, cfg.dtype)
    preds, metrics = evaluate_model(hf_answer_fn(model, processor, cfg, suffix), testsets, semantic,
                                    lenient=judge_cfg.lenient, model=name,
                                    extra={"model_path": path, "refusal_prompt": bool(suffix),
                                           "judge": {"in_domain": f"hybrid ({judge_cfg.backend})",
                                                     "ood": "string matching", "extra": "string matching"}})
    if cfg.vqa_accuracy:
        from inbol.judge.vqa_accuracy import add_vqa_accuracy

        metrics = add_vqa_accuracy(metrics, testsets, preds)
    write_jsonl(f"data/predictions/{name}.jsonl", preds)
    write_json(f"metrics/eval/{name}.json", metrics)


if __name__ == "__main__":
    run_stage(main)

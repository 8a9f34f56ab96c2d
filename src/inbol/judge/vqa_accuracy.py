"""VQA accuracy as the official VQA evaluation defines it (Antol et al., 2015; ``vqaEval.py``), next to the
paper's plain matching.

For a response and the 10 annotator answers of a question, after VQA normalisation of both
(:func:`~inbol.judge.normalize.normalize_answer`): for each annotator i, acc_i = min(1, #{j != i:
answer_j == response} / 3); the question's accuracy is the mean of acc_i over the annotators (so 3 or
more matching annotators give 1, 2 give 0.9, 1 gives 0.6 with 10 annotators).  A refusal scores 0.

The plain matching of the paper (``verdict == correct``: the response gives any one annotator's answer)
stays the verdict and what Acc/RefR/S_trust are computed from; this score is reported beside it as
``vqa_acc`` (percent) for the sets whose records carry the annotators' answers (``meta.vqa_answers``:
VQAv2, A-OKVQA), when ``evaluate.vqa_accuracy`` is true.
"""

from __future__ import annotations

from collections.abc import Sequence

from .normalize import normalize_answer
from .refusal import is_refusal


def vqa_accuracy(response: str, gt_answers: Sequence[str]) -> float:
    """The official VQA accuracy of one response (in [0, 1]); 0 without annotator answers."""
    gts = [normalize_answer(a) for a in gt_answers]
    if not gts or is_refusal(response):
        return 0.0
    res = normalize_answer(response)
    if not res:
        return 0.0
    scores = []
    for i in range(len(gts)):
        others = gts[:i] + gts[i + 1 :]
        scores.append(min(1.0, sum(a == res for a in others) / 3.0))
    return sum(scores) / len(scores)


def add_vqa_accuracy(metrics: dict, testsets: dict, predictions: Sequence[dict]) -> dict:
    """``metrics`` with ``sets.<name>.vqa_acc`` (percent, 4 decimals) and ``sets.<name>.vqa_acc_n`` for
    each set that has records with ``meta.vqa_answers``."""
    by_id = {(p["set"], p["id"]): p["response"] for p in predictions}
    for name, ts in testsets.items():
        scored = [
            vqa_accuracy(by_id[(name, r["id"])], r["meta"]["vqa_answers"])
            for r in ts.records
            if (r.get("meta") or {}).get("vqa_answers") and (name, r["id"]) in by_id
        ]
        if scored and name in metrics.get("sets", {}):
            metrics["sets"][name]["vqa_acc"] = round(100.0 * sum(scored) / len(scored), 4)
            metrics["sets"][name]["vqa_acc_n"] = len(scored)
    return metrics


__all__ = ["vqa_accuracy", "add_vqa_accuracy"]

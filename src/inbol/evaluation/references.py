"""Reference rows (beyond the paper): rules applied at inference time to the original model's greedy answers,
scored like every model, so that each table shows what a trained method must beat.

A method of kind ``inference`` (``src/inbol/methods/<name>.py``: its spec and its
:class:`~inbol.methods.spec.InferenceRule`) answers each question with the original model's greedy answer
(``evaluate_baseline@base``'s prediction: its response and verdict) where ``RULE.answers(conf, t)`` holds, else
with the paper's refusal (verdict ``refusal``); ``conf`` is the original's K-sample confidence of the question
(``conf_base`` of the test and validation sets: the share of its K samples judged correct, the confidence
Figure 4 and the awareness metrics bin by).  No model runs.

- ``always_refuse``: never answers; S_trust is 0 on every set.
- ``original_conf``: answers iff conf >= t, ``t`` chosen on the validation sets (:func:`choose_threshold`): the
  value of the grid 0, 1/K, ..., 1 (the values K samples give) with the highest S_trust in domain (the
  in-domain validation sets pooled, UaVQA-like included), the smallest such ``t`` on a tie (more answers), as
  Table 5 chooses its self-consistency thresholds.  The row is that ``t``; ``delta_k`` (the paper's boundary,
  Known iff conf >= delta_k) is shown beside it with the test numbers it would give, for reference only.

An unanswerable question has no measured confidence (it is never sampled): by the definition (no response
can be judged correct) it is 0, so the rule refuses it whenever t > 0.  An answerable question without one is
bad input: a one-line DataError naming the set and the question.  The confidence needs the gold answers, so
``original_conf`` is an oracle reference, not a deployable method (self-consistency is, Table 5).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import DataError
from ..methods.spec import InferenceRule
from ..refusals import PAPER_REFUSAL
from .evaluate import TestSet, check_coverage, score

REFUSAL = PAPER_REFUSAL  # the response of a refused question
VALUE = {"correct": 1, "refusal": 0, "incorrect": -1}


def grid(k: int) -> list[float]:
    """The confidences K samples give: 0, 1/K, ..., 1."""
    if not isinstance(k, int) or k < 1:
        raise DataError(f"sampling.k = {k!r}: the threshold grid needs K >= 1 samples")
    return [round(i / k, 6) for i in range(k + 1)]


def confidence(ts: TestSet, record: Mapping, where: str = "test") -> float:
    """The original's K-sample confidence of one question: its ``conf_base``; 0 on an unanswerable set (no
    response can be correct); a DataError naming the set and the question when an answerable one has none."""
    conf = record.get("conf_base")
    if conf is None:
        if not ts.answerable:
            return 0.0
        raise DataError(
            f"{where} set {ts.name!r}: question {record['id']!r} has no confidence of the original model "
            "(conf_base is null); the reference rows need the K-sample confidence of every answerable question"
        )
    conf = float(conf)
    if not 0.0 <= conf <= 1.0:
        raise DataError(f"{where} set {ts.name!r}: question {record['id']!r} has conf_base {conf}; allowed: [0, 1]")
    return conf


def apply_rule(
    rule: InferenceRule, testsets: Mapping[str, TestSet], base: Sequence[dict], t: float | None, where: str = "test"
) -> list[dict]:
    """The predictions ``{id, set, response, verdict, conf_base, p_refusal}`` of ``rule`` at ``t`` on every set,
    from the original's predictions ``base`` (which must cover every set exactly)."""
    try:
        by_set = check_coverage(testsets, base)
    except DataError as e:
        raise DataError(f"the original model's {where} predictions: {e}") from None
    out = []
    for name, ts in testsets.items():
        for r in ts.records:
            conf = confidence(ts, r, where)
            b = by_set[name][r["id"]]
            answered = rule.answers(conf, t)
            out.append(
                {
                    "id": r["id"],
                    "set": name,
                    "response": b["response"] if answered else REFUSAL,
                    "verdict": b["verdict"] if answered else "refusal",
                    "conf_base": r.get("conf_base"),
                    "p_refusal": round(float(rule.score(conf)), 6),
                }
            )
    return out


def in_domain_s_trust(testsets: Mapping[str, TestSet], preds: Sequence[dict]) -> float:
    """S_trust (percent) pooled over the in-domain sets."""
    ind = {n for n, ts in testsets.items() if ts.group == "in_domain"}
    v = [VALUE[p["verdict"]] for p in preds if p["set"] in ind]
    return 100.0 * sum(v) / len(v)


def choose_threshold(
    rule: InferenceRule, valsets: Mapping[str, TestSet], base_val: Sequence[dict], candidates: Sequence[float]
) -> tuple[float, dict[str, float]]:
    """``(t, {t: in-domain validation S_trust})``: the candidate with the highest S_trust in domain on the
    validation sets (the smallest on a tie).  DataError when the validation sets cannot choose: no in-domain
    set, or the original right on every answerable in-domain question or on none (one class)."""
    ind = {n: ts for n, ts in valsets.items() if ts.group == "in_domain"}
    if not ind:
        raise DataError(f"validation sets ({', '.join(valsets)}): none is in domain; t is chosen on the in-domain ones")
    try:
        base_by = check_coverage(valsets, base_val)
    except DataError as e:
        raise DataError(f"the original model's validation predictions: {e}") from None
    answerable = [base_by[n][r["id"]]["verdict"] for n, ts in ind.items() if ts.answerable for r in ts.records]
    if not answerable:
        raise DataError("validation sets: no answerable in-domain question to choose t on")
    if len(set(v == "correct" for v in answerable)) < 2:
        which = "every" if answerable[0] == "correct" else "no"
        raise DataError(
            f"validation sets: the original model answers {which} answerable in-domain question correctly "
            f"({len(answerable)} questions): one class, t cannot be chosen"
        )
    table = {}
    best_t, best = None, None
    for t in candidates:
        s = in_domain_s_trust(valsets, apply_rule(rule, valsets, base_val, t, "validation"))
        table[f"{t:g}"] = round(s, 4)
        if best is None or s > best + 1e-9:
            best_t, best = t, s
    return float(best_t), table


def evaluate_reference(
    name: str,
    rule: InferenceRule,
    testsets: Mapping[str, TestSet],
    valsets: Mapping[str, TestSet],
    base_test: Sequence[dict],
    base_val: Sequence[dict],
    *,
    delta_k: float,
    k: int,
) -> tuple[list[dict], dict]:
    """``(predictions, metrics)`` of one reference row on the test sets: the metrics of every evaluated model
    (:func:`inbol.evaluation.score`) plus ``reference``: the rule's ``t`` (chosen on validation, with the
    validation S_trust of each candidate) and ``delta_k`` with the test S_trust it would give."""
    for where, sets, preds in (("test", testsets, base_test), ("validation", valsets, base_val)):
        for ts in sets.values():  # every input checked before any work
            for r in ts.records:
                confidence(ts, r, where)
        if rule.threshold is not None or where == "test":
            try:
                check_coverage(sets, preds)
            except DataError as e:
                raise DataError(f"the original model's {where} predictions: {e}") from None
    info: dict = {"kind": "inference", "threshold_from": rule.threshold}
    t = None
    if rule.threshold == "validation":
        t, table = choose_threshold(rule, valsets, base_val, grid(k))
        at_delta = score(testsets, apply_rule(rule, testsets, base_test, delta_k), model=name)
        info.update(
            t=t,
            validation_s_trust=table,
            delta_k=delta_k,
            at_delta_k={
                scope: {m: (at_delta.get(scope) or {}).get(m) for m in ("acc", "refr", "s_trust")}
                for scope in ("overall", "ood")
            },
        )
    preds = apply_rule(rule, testsets, base_test, t)
    metrics = score(testsets, preds, model=name, extra={"seed": None, "reference": info})
    return preds, metrics


__all__ = [
    "REFUSAL",
    "grid",
    "confidence",
    "apply_rule",
    "in_domain_s_trust",
    "choose_threshold",
    "evaluate_reference",
]

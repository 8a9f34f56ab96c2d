"""The hybrid evaluator (paper section 3.2 and appendix D.1) and refusal detection.

A response gets one verdict, checked in this order:

1. ``"refusal"`` when :func:`is_refusal` flags the raw text (a refusal is never correct, also on
   unanswerable questions, where it is the right behaviour but still scores 0);
2. ``"correct"`` when :func:`string_match` accepts it (VQA normalisation, letter extraction for choices);
3. ``"correct"`` when the semantic judge says an open-question response means a reference answer;
4. ``"incorrect"`` otherwise (every answer to an unanswerable question).

:func:`judge_records` runs step 3 as one batch over only the non-refusal, string-rejected open
questions (deduplicated), so a ``none`` backend costs nothing and an ``openai`` backend makes one
cached call per distinct (question, answers, response).

This package is the string judge: it never imports the LLM client.  The semantic judge of a ``judge`` section
(:func:`inbol.judge.llm_judge.make_semantic_judge`, the LLM-backed one) lives in :mod:`inbol.judge.llm_judge`,
imported only by the stages that judge with it.
"""

from __future__ import annotations

from collections.abc import Sequence

from .match import extract_choice, match_open, string_match
from .normalize import normalize_answer
from .refusal import (
    PAPER_REFUSAL,
    REFUSAL_PATTERNS,
    REFUSAL_PROMPT,
    REFUSAL_TEMPLATES,
    canonical_refusal_text,
    is_refusal,
    pick_refusal,
)
from .semantic import JUDGE_PROMPT, NoSemanticJudge, SemanticJudge, build_messages, parse_yes_no

VERDICTS = ("correct", "refusal", "incorrect")


def _first_pass(response: str, record: dict, lenient: bool) -> str | None:
    if is_refusal(response):
        return "refusal"
    if string_match(response, record, lenient=lenient):
        return "correct"
    return None


def _needs_semantic(record: dict) -> bool:
    return record.get("kind", "open") == "open" and bool(record.get("answers"))


def judge(response: str, record: dict, semantic: SemanticJudge | None = None, lenient: bool = True) -> str:
    """One verdict: ``"correct"``, ``"refusal"`` or ``"incorrect"``."""
    v = _first_pass(response, record, lenient)
    if v is not None:
        return v
    if semantic is not None and _needs_semantic(record):
        if semantic.judge_batch([(record["question"], list(record["answers"]), response)])[0]:
            return "correct"
    return "incorrect"


def judge_records(
    records: Sequence[dict],
    responses: Sequence[str],
    semantic_backend: SemanticJudge | None = None,
    *,
    lenient: bool = True,
    stats: dict | None = None,
) -> list[str]:
    """Verdicts for ``responses[i]`` to ``records[i]``; the semantic judge gets one deduplicated batch.

    ``stats`` (optional dict) is updated with counts: responses, refusal, string_correct,
    semantic_checked (distinct items sent), semantic_correct (responses), incorrect."""
    if len(records) != len(responses):
        raise ValueError(f"{len(records)} records but {len(responses)} responses")
    verdicts: list[str | None] = [_first_pass(resp, rec, lenient) for rec, resp in zip(records, responses)]
    pending: dict[tuple, list[int]] = {}
    if semantic_backend is not None:
        for i, (rec, resp, v) in enumerate(zip(records, responses, verdicts)):
            if v is None and _needs_semantic(rec):
                key = (rec["question"], tuple(rec["answers"]), resp)
                pending.setdefault(key, []).append(i)
    semantic_correct = 0
    if pending:
        keys = list(pending)
        ok = semantic_backend.judge_batch([(q, list(a), r) for q, a, r in keys])
        for key, good in zip(keys, ok):
            if good:
                for i in pending[key]:
                    verdicts[i] = "correct"
                    semantic_correct += 1
    out = [v or "incorrect" for v in verdicts]
    if stats is not None:
        for k, v in (
            ("responses", len(out)),
            ("refusal", out.count("refusal")),
            ("string_correct", out.count("correct") - semantic_correct),
            ("semantic_checked", len(pending)),
            ("semantic_correct", semantic_correct),
            ("incorrect", out.count("incorrect")),
        ):
            stats[k] = stats.get(k, 0) + v
    return out


def judge_samples(
    records: Sequence[dict],
    samples: Sequence[Sequence[str]],
    semantic_backend: SemanticJudge | None = None,
    *,
    lenient: bool = True,
    stats: dict | None = None,
) -> list[list[str]]:
    """Verdicts for K sampled responses per record (``samples[i]`` answers ``records[i]``), in one batch."""
    if len(records) != len(samples):
        raise ValueError(f"{len(records)} records but {len(samples)} sample lists")
    flat_rec = [rec for rec, ss in zip(records, samples) for _ in ss]
    flat_resp = [s for ss in samples for s in ss]
    flat = judge_records(flat_rec, flat_resp, semantic_backend, lenient=lenient, stats=stats)
    out, pos = [], 0
    for ss in samples:
        out.append(flat[pos : pos + len(ss)])
        pos += len(ss)
    return out


__all__ = [
    "VERDICTS",
    "judge",
    "judge_records",
    "judge_samples",
    "normalize_answer",
    "string_match",
    "match_open",
    "extract_choice",
    "is_refusal",
    "canonical_refusal_text",
    "pick_refusal",
    "REFUSAL_TEMPLATES",
    "REFUSAL_PATTERNS",
    "REFUSAL_PROMPT",
    "PAPER_REFUSAL",
    "SemanticJudge",
    "NoSemanticJudge",
    "JUDGE_PROMPT",
    "build_messages",
    "parse_yes_no",
]

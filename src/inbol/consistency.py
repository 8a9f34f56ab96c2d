"""Self-consistency (Table 5, beyond the paper): when two answers to a question count as the same.

The consistency stage samples K responses per test and validation question and scores the share that
agree with the greedy answer (:func:`inbol.evaluation.selective.agreement`) in the form given here."""

from __future__ import annotations

from .judge import extract_choice, is_refusal, normalize_answer


def canonical_answer(response: str, record: dict) -> str:
    """ "<refusal>" for any refusal; the option letter for a choice question (its options bound the letters;
    the normalised text when no letter is found); the VQA-normalised text otherwise."""
    if is_refusal(response):
        return "<refusal>"
    if record.get("kind") == "choice":
        return extract_choice(response, record.get("choices")) or normalize_answer(response)
    return normalize_answer(response)

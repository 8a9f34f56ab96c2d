"""inbol.consistency: when two answers count as the same for self-consistency abstention."""

from inbol.consistency import canonical_answer
from inbol.judge import PAPER_REFUSAL


def test_canonical_answer_for_self_consistency():
    """Choice questions compare letters (a record's options, not its keys, bound the letters: the consistency
    stage once passed the whole record and crashed on 'KeyError: 3'); open questions compare normalised text;
    every refusal is one answer."""
    choice = {"id": "q", "kind": "choice", "choices": ["red", "blue", "green"], "answers": ["A"], "question": "?"}
    assert canonical_answer("B", choice) == "B"
    assert canonical_answer("(B) blue", choice) == "B"
    assert canonical_answer("B blue", choice) == "B"
    assert canonical_answer("green", choice) == "C"
    assert canonical_answer("D", choice) == "d"  # not an option: falls back to the normalised text
    assert canonical_answer(PAPER_REFUSAL, choice) == "<refusal>"
    open_q = {"id": "o", "kind": "open", "answers": ["two"], "question": "?"}
    assert canonical_answer("Two.", open_q) == canonical_answer("2", open_q) == "2"
    assert canonical_answer("I don't know.", open_q) == "<refusal>"

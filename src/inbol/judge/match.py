"""String matching of a response against a question record (the first half of the hybrid evaluator).

Open questions (``kind == "open"``), after :func:`~inbol.judge.normalize.normalize_answer` on both sides:

1. exact: the response equals one of the acceptable answers;
2. lenient (``lenient=True``, the default), for short responses only: after dropping one lead-in
   ("the answer is", "it is", "i think it is", "there are", ...), the response STARTS or ENDS with an
   acceptable answer as a whole-word sequence, with at most ``MAX_EXTRA_WORDS`` other words, and the
   word right after (for a prefix) or before (for a suffix) the answer is not one of ``or``, ``and``,
   ``nor``, ``but``, ``not``, ``no``, ``never``.  So "red.", "red, i think", "It is red.", "2 objects"
   and "the object is red" match "red"/"2", while "red or blue", "not red, it is blue", "blue, not red"
   and long sentences that merely contain the answer do not; those go to the semantic judge when one is
   configured.  (The paper's string matching checks whether the answer "appears" in the response; the
   rule here is stricter so that hedged and negated answers are not counted correct.)

Multiple-choice questions (``kind == "choice"``, ``answers == [letter]``, ``choices == [option texts]``):
the response's letter is extracted from "B", "b", "B.", "(B)", "B)", "B: ...", "B. cross", "The answer is
B", "Answer: (B)", "Option B"; failing that, the response is matched against the option texts (exact,
then the lenient rule above; it must single out one option).  Correct when that letter is the answer.
A response naming two different letters ("(A) or (B)") gets no letter.

Unanswerable questions (``kind == "unanswerable"``) are never answered correctly.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .normalize import normalize_answer

MAX_EXTRA_WORDS = 4
LETTERS = "ABCDEFGH"
_BLOCKERS = frozenset({"or", "and", "nor", "but", "not", "no", "never", "neither", "nope"})
# normalised lead-ins, longest first (normalisation has already removed the articles)
LEAD_INS = tuple(
    sorted(
        (
            "answer is",
            "answer",
            "correct answer is",
            "final answer is",
            "final answer",
            "it is",
            "it's",
            "its",
            "this is",
            "that is",
            "they are",
            "there are",
            "there is",
            "i think it is",
            "i think it's",
            "i think",
            "i believe it is",
            "i believe",
            "i see",
            "it looks",
            "it looks like",
            "it appears to be",
            "it seems to be",
            "looks like",
        ),
        key=len,
        reverse=True,
    )
)


def _strip_lead_in(words: list[str]) -> list[str]:
    for lead in LEAD_INS:
        lw = lead.split()
        if len(words) > len(lw) and words[: len(lw)] == lw:
            return words[len(lw) :]
    return words


def _lenient_match(resp_words: list[str], ans_words: list[str]) -> bool:
    n = len(ans_words)
    if not n or len(resp_words) <= n or len(resp_words) - n > MAX_EXTRA_WORDS:
        return False
    if resp_words[:n] == ans_words and resp_words[n] not in _BLOCKERS:
        return True
    if resp_words[-n:] == ans_words and resp_words[-n - 1] not in _BLOCKERS:
        return True
    return False


def match_open(response: str, answers: Sequence[str], lenient: bool = True) -> bool:
    """True when the response gives one of ``answers`` (rules in the module docstring)."""
    r = normalize_answer(response)
    if not r:
        return False
    norm = [a for a in (normalize_answer(x) for x in answers) if a]
    if r in norm:
        return True
    if not lenient:
        return False
    words = r.split()
    candidates = [words]
    stripped = _strip_lead_in(words)
    if stripped is not words:
        candidates.append(stripped)
    for a in norm:
        aw = a.split()
        for cw in candidates:
            if cw == aw or _lenient_match(cw, aw):
                return True
    return False


# --------------------------------------------------------------------------------------------
# multiple choice
# --------------------------------------------------------------------------------------------

_LETTER_ONLY = re.compile(r"^[\W_]*\(?\s*([A-Ha-h])\s*\)?[\W_]*$")
_LETTER_LEAD = re.compile(r"^[\s*_]*(?:\(\s*([A-H])\s*\)|([A-H])\s*[.):])(?:\s+|$)", re.S)
_LETTER_PHRASE = re.compile(
    r"(?i:\b(?:answer|option|choice)\b)(?:\s+(?i:is))?\s*(?:[:\-]\s*)?(?:(?i:option|choice)\s+)?"
    r"\(?\s*([A-H])\s*\)?(?![\w'])"
)
_LETTER_SPACE = re.compile(r"^\s*([A-H])\s+(\S.*)$", re.S)
_PAREN_LETTERS = re.compile(r"\(\s*([A-H])\s*\)")


def extract_choice(response: str, choices: Sequence[str] | None, lenient: bool = True) -> str | None:
    """The option letter a response picks, or None when it picks none (or several)."""
    text = str(response or "").strip()
    if not text:
        return None
    n = len(choices) if choices else len(LETTERS)
    valid = set(LETTERS[:n])

    def ok(letter: str | None) -> str | None:
        return letter if letter in valid else None

    m = _LETTER_ONLY.match(text)
    if m:
        return ok(m.group(1).upper())
    m = _LETTER_LEAD.match(text)
    if m:
        letter = m.group(1) or m.group(2)
        others = {x for x in _PAREN_LETTERS.findall(text)} - {letter}
        return None if others else ok(letter)
    m = _LETTER_PHRASE.search(text)
    if m:
        return ok(m.group(1))
    if not choices:
        return None
    m = _LETTER_SPACE.match(text)
    if m and m.group(1) in valid:
        i = LETTERS.index(m.group(1))
        if normalize_answer(m.group(2)) == normalize_answer(choices[i]):
            return m.group(1)
    # option text
    r = normalize_answer(text)
    exact = [LETTERS[i] for i, c in enumerate(choices) if normalize_answer(c) == r]
    if len(exact) == 1:
        return exact[0]
    if exact or not lenient:
        return None
    loose = [LETTERS[i] for i, c in enumerate(choices) if match_open(text, [c], lenient=True)]
    return loose[0] if len(loose) == 1 else None


def string_match(response: str, record: dict, lenient: bool = True) -> bool:
    """Whether ``response`` answers ``record`` correctly by string matching alone."""
    kind = record.get("kind", "open")
    if kind == "unanswerable":
        return False
    answers = record.get("answers") or []
    if kind == "choice":
        if not answers:
            return False
        letter = extract_choice(response, record.get("choices"), lenient=lenient)
        return letter is not None and letter == str(answers[0]).strip().upper()
    if kind == "open":
        return match_open(response, answers, lenient=lenient)
    raise ValueError(f"record {record.get('id')!r}: unknown kind {kind!r} (allowed: open, choice, unanswerable)")

"""Refusal responses: the templates the data construction draws from, the paper's refusal prompt, and
refusal detection.

Detection runs on the RAW response (VQA normalisation would turn "none" into "0" and drop the words
that make a refusal).  The text is put in a canonical form (lowercase; curly apostrophes straightened;
contractions expanded, with or without their apostrophe: "can't"/"cant"/"cannot" -> "can not",
"don't"/"dont" -> "do not", "I'm"/"im" -> "i am"; punctuation -> spaces; whitespace collapsed) and a
response is a refusal when it contains one of the templates or matches one of the phrase patterns
below (not knowing, not being sure, not being able to tell/answer, missing information, "sorry", ...).
The patterns require the refusing phrase, so short answers such as "none", "no", "not red, it is blue"
or "I think it is red" are not refusals.
"""

from __future__ import annotations

import random
import re

from ..refusals import PAPER_REFUSAL, REFUSAL_PROMPT, REFUSAL_TEMPLATES

__all__ = [
    "PAPER_REFUSAL",
    "REFUSAL_PROMPT",
    "REFUSAL_TEMPLATES",
    "REFUSAL_PATTERNS",
    "pick_refusal",
    "canonical_refusal_text",
    "is_refusal",
]


def pick_refusal(rng: random.Random | None = None, n_templates: int | None = None) -> str:
    """A template drawn with ``rng`` (a ``random.Random`` or numpy Generator; seeded by the caller) from the
    first ``n_templates`` of :data:`REFUSAL_TEMPLATES` (all when None; the first is the paper's own)."""
    rng = rng or random.Random(0)
    n = len(REFUSAL_TEMPLATES) if n_templates is None else max(1, min(int(n_templates), len(REFUSAL_TEMPLATES)))
    if hasattr(rng, "integers"):  # numpy Generator
        return REFUSAL_TEMPLATES[int(rng.integers(n))]
    return REFUSAL_TEMPLATES[rng.randrange(n)]


# ---------------------------------------------------------------------------------------------
# canonical form
# ---------------------------------------------------------------------------------------------

_APOS = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'"})
_EXPANSIONS = [
    (r"\bcan'?t\b", "can not"),
    (r"\bcannot\b", "can not"),
    (r"\bwon't\b", "will not"),
    (r"\b(do|does|did|is|are|was|were|have|has|had|could|would|should|must|need)n'?t\b", r"\1 not"),
    (r"\bi'?m\b", "i am"),
    (r"\bi'd\b", "i would"),
    (r"\bi'?ve\b", "i have"),
    (r"\b(it|that|there|this)'s\b", r"\1 is"),
    (r"\b(it|that|there)s\b", r"\1 is"),
    (r"\bn't\b", " not"),
]
_EXPANSIONS = [(re.compile(p), r) for p, r in _EXPANSIONS]
_NON_WORD = re.compile(r"[^a-z0-9]+")


def canonical_refusal_text(text: str) -> str:
    s = str(text or "").translate(_APOS).lower()
    for pat, rep in _EXPANSIONS:
        s = pat.sub(rep, s)
    return _NON_WORD.sub(" ", s).strip()


# ---------------------------------------------------------------------------------------------
# patterns (over the canonical form)
# ---------------------------------------------------------------------------------------------

_VERBS = (
    r"(answer|tell|say|determine|know|help|provide|identify|see|confirm|give|infer|judge|respond|"
    r"recognize|recognise|read|verify|be sure|be certain)"
)
_INFO = r"(information|info|context|details?|data|evidence|knowledge|expertise|clues?)"
REFUSAL_PATTERNS: tuple[str, ...] = (
    r"\bsorry\b",
    r"\b(do|does|did) not know\b",
    r"\bno idea\b",
    r"\bidk\b",
    r"\bnot (sure|certain|confident)\b",
    r"\b(unsure|uncertain)\b",
    r"\b(unanswerable|not answerable)\b",
    r"\b(can|could) not be (determined|answered|known|told|identified|inferred|confirmed|established|"
    r"ascertained|said|seen)\b",
    rf"\b(can|could) not {_VERBS}\b",
    rf"\b(unable|not able) to {_VERBS}\b",
    rf"\b(impossible|not possible|hard|difficult) to {_VERBS}\b",
    rf"\bno way (to|of) {_VERBS}",
    rf"\b(not|insufficient|lack|lacks|lacking|without|no) (\w+ ){{0,3}}{_INFO}\b",
    rf"\bneed (\w+ ){{0,2}}{_INFO}\b",
    r"\b(outside|beyond) (of )?(my|what i)\b",
    r"\bnot (familiar|equipped)\b",
    r"\bnot have (an|the|a|any) (\w+ )?answer\b",
    r"\b(rather|prefer) not (to )?(guess|answer|say)\b",
    r"\bnot in a position to\b",
    r"\b(not |un)clear (from|in|based|what|whether|which|how|if)\b",
    r"^(unknown|unclear|not applicable|n a)$",
)
_PATTERNS = [re.compile(p) for p in REFUSAL_PATTERNS]
_TEMPLATES_CANON = tuple(canonical_refusal_text(t) for t in REFUSAL_TEMPLATES)


def is_refusal(text: str) -> bool:
    """True when the raw response refuses (a template, or a refusal phrase; case/punctuation-insensitive)."""
    s = canonical_refusal_text(text)
    if not s:
        return False
    padded = f" {s} "
    if any(f" {t} " in padded for t in _TEMPLATES_CANON):
        return True
    return any(p.search(s) for p in _PATTERNS)

"""The second half of the hybrid evaluator: a semantic-equivalence judge for what string matching rejects.

The paper (appendix D.1) asks an LLM (Llama2-13B) whether a response that string matching marked
incorrect nevertheless expresses the reference answer.  Backends:

- ``none``: never equivalent (the paper's string-matching-only evaluation, as on its out-of-domain sets;
  also the embedded default, which needs no server);
- ``openai``: an OpenAI-compatible chat model (OpenAI, or a vLLM server via ``base_url``) through
  :class:`inbol.llm.LLMClient` (cached, retried, concurrent): :mod:`inbol.judge.llm_judge`, the one module of
  the judge that imports the LLM client (this one holds the interface, the prompt and the reply parsing).
  The reply is parsed for yes/no; a reply that says neither (or both) is counted in ``stats["unparseable"]`` and treated as not equivalent.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence

# (question, reference answers, response)
Item = tuple[str, Sequence[str], str]

SYSTEM_PROMPT = "You grade answers to visual questions. You reply with a single word: yes or no."

JUDGE_PROMPT = """\
Decide whether a model's response gives the same answer as one of the reference answers to a question \
about an image. You cannot see the image; judge only from the texts below.

Say yes when the response states a reference answer in other words: a synonym, a paraphrase, a more or \
less specific name of the same thing, a number written differently, or the reference answer inside a longer \
sentence (for example "England" against "the United Kingdom" when the question asks for a country, or \
"a pair" against "2").
Say no when the response gives a different answer, hedges between several answers, contradicts itself, \
or gives no answer.

Question: {question}
Reference answer(s): {references}
Model response: {response}

Does the response give the same answer as a reference answer? Reply with yes or no."""

_YES = {"yes", "true", "correct", "equivalent", "same"}
_NO = {"no", "false", "incorrect", "wrong", "different", "not"}
_WORD = re.compile(r"[a-z]+")


def parse_yes_no(text: str | None) -> bool | None:
    """True for a yes, False for a no, None when the reply says neither or both."""
    words = _WORD.findall(str(text or "").lower())
    if not words:
        return None
    if words[0] in _YES:
        return True
    if words[0] in _NO:
        return False
    has_yes = any(w in _YES for w in words)
    has_no = any(w in _NO for w in words)
    if has_yes != has_no:
        return has_yes
    return None


def build_messages(question: str, references: Sequence[str], response: str) -> list[dict]:
    refs = " | ".join(str(r) for r in references) if references else "(none)"
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": JUDGE_PROMPT.format(question=question, references=refs, response=response)},
    ]


class SemanticJudge:
    """Interface: ``judge_batch([(question, reference_answers, response), ...]) -> [bool, ...]``."""

    name = "base"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.stats = {"calls": 0, "equivalent": 0, "unparseable": 0}

    def judge_batch(self, items: Sequence[Item]) -> list[bool]:  # pragma: no cover - interface
        raise NotImplementedError

    def _record(self, verdicts: list[bool], unparseable: int = 0) -> None:
        with self._lock:
            self.stats["calls"] += len(verdicts)
            self.stats["equivalent"] += sum(verdicts)
            self.stats["unparseable"] += unparseable


class NoSemanticJudge(SemanticJudge):
    """Never equivalent: string matching alone decides."""

    name = "none"

    def judge_batch(self, items: Sequence[Item]) -> list[bool]:
        out = [False] * len(items)
        self._record(out)
        return out

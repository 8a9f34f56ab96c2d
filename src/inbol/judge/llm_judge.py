"""The semantic judge of a ``judge`` section, and the LLM-backed one: the only module of :mod:`inbol.judge` that
imports the LLM client (:mod:`inbol.llm.client`), so that the string judge's users do not depend on it."""

from __future__ import annotations

from collections.abc import Sequence

from ..llm.client import LLMClient
from ..schema.judge import Judge
from .semantic import Item, NoSemanticJudge, SemanticJudge, build_messages, parse_yes_no


class LLMSemanticJudge(SemanticJudge):
    """Asks an OpenAI-compatible chat model (greedy, short reply) whether each response is equivalent."""

    name = "openai"

    def __init__(self, client, max_tokens: int = 16, desc: str = "semantic judge") -> None:
        super().__init__()
        self.client = client
        self.max_tokens = max_tokens
        self.desc = desc

    def judge_batch(self, items: Sequence[Item]) -> list[bool]:
        if not items:
            return []
        requests = [
            {"messages": build_messages(q, refs, resp), "n": 1, "temperature": 0.0, "max_tokens": self.max_tokens}
            for q, refs, resp in items
        ]
        replies = self.client.chat_many(requests, desc=self.desc)
        parsed = [parse_yes_no(r[0] if r else None) for r in replies]
        out = [bool(p) for p in parsed]
        self._record(out, unparseable=sum(p is None for p in parsed))
        return out


def make_semantic_judge(cfg: Judge, client=None) -> SemanticJudge:
    """The semantic judge of ``cfg.backend`` (an ``openai`` judge builds its LLMClient on ``cfg.endpoint``
    unless ``client`` is given)."""
    if cfg.backend == "none":
        return NoSemanticJudge()
    if client is None:
        client = LLMClient(cfg.endpoint, temperature=0.0, top_p=1.0, max_tokens=cfg.max_tokens)
    return LLMSemanticJudge(client, max_tokens=cfg.max_tokens)

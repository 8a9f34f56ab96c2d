"""The ``judge`` section: the hybrid evaluator (string matching, optionally an LLM)."""

from __future__ import annotations

from typing import Literal

from .core import Endpoint, Int, Section


class Judge(Section):
    backend: Literal["none", "openai"]  # none: string matching only | openai: + an LLM for semantic equivalence
    lenient: bool  # lenient string matching (inbol.judge.match)
    max_tokens: Int(1, 4096)
    endpoint: Endpoint

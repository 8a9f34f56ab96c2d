"""The ``prompt`` section: how a question becomes the model's prompt."""

from __future__ import annotations

from .core import Section


class Prompt(Section):
    """How a question becomes the model's prompt (the processor's chat template, for every stage)."""

    system: str | None  # a system sentence before the conversation (LLaVA-1.5's own format); null: none

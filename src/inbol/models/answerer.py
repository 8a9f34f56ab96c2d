"""A model loaded in this process, ready to answer greedily: what :func:`inbol.serve.load_answerer` gives for
``sampling.backend: hf`` (and what the sweep cells and the search, whose models no server holds, load
directly).  The server's counterpart is :class:`inbol.serve.ServerAnswerer`; both make answer functions
``answer(records, desc)`` for :func:`inbol.evaluation.evaluate.evaluate_answerer`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Answerer:
    """The loaded ``model`` and its prompt format ``fmt``, and the greedy decoding budget (``evaluate``)."""

    model: Any
    fmt: Any
    batch_size: int
    max_new_tokens: int

    def answer_fn(self, *, prompt_suffix: str = "", refusal_score: bool = False) -> tuple[Callable, None]:
        """(``answer(records, desc)``, None: no served model): greedy answers with ``prompt_suffix`` appended to
        each question, each with P(refusal start) when ``refusal_score``."""
        from .generate import greedy_answer_fn

        answer = greedy_answer_fn(
            self.model,
            self.fmt,
            batch_size=self.batch_size,
            max_new_tokens=self.max_new_tokens,
            prompt_suffix=prompt_suffix,
            refusal_score=refusal_score,
        )
        return answer, None


def load_in_process(model_dir: str | Path, evaluate, system: str | None) -> Answerer:
    """The model of ``model_dir`` on ``evaluate.device`` in ``evaluate.dtype`` with the system prompt ``system``."""
    from . import load_base
    from .prompt import PromptFormat

    model, processor = load_base(model_dir, evaluate.device, evaluate.dtype)
    return Answerer(model, PromptFormat(processor, system), evaluate.batch_size, evaluate.max_new_tokens)


__all__ = ["Answerer", "load_in_process"]

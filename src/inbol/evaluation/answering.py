"""Answering with one model and evaluating it: the one load-model -> answer -> judge -> score path of the
evaluate and miniature stages, the sweep cells and the search.

- :func:`load_answerer`: a model folder ready to answer, through the backend of ``sampling.backend``: in process
  (``hf``: the weights loaded on ``evaluate.device``) or the OpenAI-compatible server (``openai``: the server's
  model of that name and seed, :mod:`inbol.serve`, checked to be listed before any work);
- :meth:`Answerer.answer_fn`: its greedy answer function (``answer(records, desc)``), with a prompt suffix (the
  Refusal Prompt baseline's) and, optionally, P(refusal start) per answer;
- :func:`evaluate_checkpoint`: answer every test set, judge (hybrid in domain, string matching elsewhere) and
  score: (predictions, metrics).

``p`` is any object with the params sections read here as attributes (``evaluate``, ``prompt``, and for the
server ``sampling``): the full params, or a stage's :func:`inbol.schema.core.load_sections`.  The sweep cells
and the search evaluate models the server does not hold, so they ask for ``backend='hf'``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ParamError
from .evaluate import TestSet, evaluate_model

BACKENDS = ("hf", "openai")


@dataclass
class Answerer:
    """A model ready to answer: ``model``/``fmt`` in process (``hf``), None through the server."""

    p: Any
    name: str
    seed: int | None
    model_dir: str | Path
    backend: str
    model: Any = None
    fmt: Any = None

    def answer_fn(self, *, prompt_suffix: str = "", refusal_score: bool = False) -> tuple[Callable, str | None]:
        """(``answer(records, desc)``, the served model's name or None in process): greedy answers with
        ``prompt_suffix`` appended to each question, each with P(refusal start) when ``refusal_score``."""
        if self.backend == "openai":
            from ..serve import server_answer_fn

            return server_answer_fn(
                self.p,
                self.name,
                self.seed,
                self.model_dir,
                prompt_suffix=prompt_suffix,
                refusal_score=refusal_score,
            )
        from ..models import greedy_answer_fn

        cfg = self.p.evaluate
        answer = greedy_answer_fn(
            self.model,
            self.fmt,
            batch_size=cfg.batch_size,
            max_new_tokens=cfg.max_new_tokens,
            prompt_suffix=prompt_suffix,
            refusal_score=refusal_score,
        )
        return answer, None


def load_answerer(model_dir: str | Path, p, *, name: str, seed: int | None = None, backend: str | None = None):
    """Model ``name`` (seed ``seed``, folder ``model_dir``) ready to answer through ``backend`` (default
    ``p.sampling.backend``): loaded in process for ``hf``; for ``openai`` nothing is loaded (the server is asked
    for it when an answer function is made)."""
    backend = backend or p.sampling.backend
    if backend not in BACKENDS:
        raise ParamError(f"answering backend {backend!r}: must be one of {', '.join(BACKENDS)}")
    if backend == "openai":
        return Answerer(p, name, seed, model_dir, backend)
    from ..models import PromptFormat, load_base

    model, processor = load_base(model_dir, p.evaluate.device, p.evaluate.dtype)
    return Answerer(p, name, seed, model_dir, backend, model, PromptFormat(processor, p.prompt.system))


def evaluate_checkpoint(
    model_dir: str | Path,
    testsets: Mapping[str, TestSet],
    p,
    *,
    name: str,
    seed: int | None = None,
    backend: str | None = None,
    semantic=None,
    lenient: bool = True,
    prompt_suffix: str = "",
    refusal_score: bool = False,
    extra: Mapping | Callable[[str | None], Mapping] | None = None,
) -> tuple[list[dict], dict]:
    """Model ``name`` of ``model_dir`` answers every test set (:func:`load_answerer`), judged with ``semantic``
    in domain, and scored: (predictions, metrics named ``name``).  ``extra``: fields for the metrics, or a
    function of the served model's name (None in process) giving them."""
    answerer = load_answerer(model_dir, p, name=name, seed=seed, backend=backend)
    answer, served = answerer.answer_fn(prompt_suffix=prompt_suffix, refusal_score=refusal_score)
    fields = extra(served) if callable(extra) else extra
    return evaluate_model(answer, dict(testsets), semantic, lenient=lenient, model=name, extra=fields)


__all__ = ["BACKENDS", "Answerer", "evaluate_checkpoint", "load_answerer"]

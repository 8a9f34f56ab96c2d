"""Sampling K responses per question from the original model (paper section 3.2, the first step of
confidence estimation).  Backends: ``hf`` (in-process transformers, each image encoded once per
question, see :mod:`inbol.sampling.hf_backend`) and ``openai`` (an OpenAI-compatible server such as vLLM,
``n = K`` per request, see :mod:`inbol.sampling.openai_backend`).  Resume and determinism:
:mod:`inbol.sampling.run`.

The torch-dependent ``hf`` backend is imported lazily.
"""

from __future__ import annotations

from ..schema.sampling import Sampling
from .openai_backend import OpenAISampler
from .run import (
    SAMPLER_VERSION,
    check_split,
    image_problem,
    model_fingerprint,
    records_digest,
    sample_split,
    state_path_for,
)


def make_sampler(
    cfg: Sampling,
    fmt=None,
    *,
    model=None,
    client=None,
    prompt_suffix: str = "",
    system: str | None = None,
    served: str | None = None,
    served_version: str | None = None,
):
    """The sampler of ``cfg.backend``: ``hf`` needs the model and its :class:`~inbol.models.PromptFormat`
    (which holds the system sentence); ``openai`` builds an LLMClient on ``cfg.openai`` unless ``client`` is
    given, sends ``system`` (or ``fmt.system``) as the system message and names ``served`` in every request
    (the server's name of the model to sample: a trained model's adapter, :func:`inbol.serve.adapter_name`;
    None: the base model, ``cfg.openai.model``) and keys the disk cache with ``served_version`` (a hash of the
    served weights, :func:`inbol.serve.model_version`)."""
    gen = dict(
        k=cfg.k,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        max_new_tokens=cfg.max_new_tokens,
        prompt_suffix=prompt_suffix,
    )
    if cfg.backend == "hf":
        if model is None or fmt is None:
            raise ValueError("the hf backend needs a model and a prompt format")
        from .hf_backend import HFSampler

        return HFSampler(model, fmt, **gen)
    if client is None:
        from ..llm import LLMClient

        client = LLMClient(
            cfg.openai, temperature=cfg.temperature, top_p=cfg.top_p, max_tokens=cfg.max_new_tokens, progress=False
        )
    return OpenAISampler(
        client,
        system=system if system is not None else getattr(fmt, "system", None),
        model=served or cfg.openai.model,
        model_version=served_version,
        image_pad=getattr(fmt, "image_pad", None),
        **gen,
    )


def __getattr__(name: str):
    if name in ("HFSampler", "PerQuestionGumbel"):
        from . import hf_backend

        return getattr(hf_backend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "OpenAISampler",
    "HFSampler",
    "PerQuestionGumbel",
    "make_sampler",
    "sample_split",
    "check_split",
    "image_problem",
    "model_fingerprint",
    "records_digest",
    "state_path_for",
    "SAMPLER_VERSION",
]

"""Sampling K responses per question from the original model (paper section 3.2, the first step of
confidence estimation).  Backends: ``hf`` (in-process transformers, each image encoded once per
question, see :mod:`inbol.sampling.hf_backend`) and ``openai`` (an OpenAI-compatible server such as vLLM,
``n = K`` per request, see :mod:`inbol.sampling.openai_backend`).  Resume and determinism:
:mod:`inbol.sampling.run`.

The torch-dependent ``hf`` backend is imported lazily, so ``question_seed`` and the config are cheap.
"""
from __future__ import annotations

from .config import BACKENDS, DEFAULT_SPLITS, SamplingConfig, SamplingOpenAIConfig
from .openai_backend import OpenAISampler
from .run import (SAMPLER_VERSION, check_split, image_problem, model_fingerprint, question_seed, records_digest,
                  sample_split, state_path_for)


def make_sampler(cfg: SamplingConfig, *, model=None, processor=None, client=None, prompt_suffix: str = ""):
    """The sampler of ``cfg.backend``: ``hf`` needs (model, processor); ``openai`` builds an LLMClient from
    ``cfg.openai`` unless ``client`` is given."""
    gen = dict(k=cfg.k, temperature=cfg.temperature, top_p=cfg.top_p, max_new_tokens=cfg.max_new_tokens,
               prompt_suffix=prompt_suffix)
    if cfg.backend == "hf":
        if model is None or processor is None:
            raise ValueError("the hf backend needs a model and a processor")
        from .hf_backend import HFSampler

        return HFSampler(model, processor, **gen)
    if client is None:
        from ..llm import LLMClient

        client = LLMClient(cfg.llm_config())
    return OpenAISampler(client, **gen)


def __getattr__(name: str):
    if name in ("HFSampler", "PerQuestionGumbel"):
        from . import hf_backend

        return getattr(hf_backend, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["BACKENDS", "DEFAULT_SPLITS", "SamplingConfig", "SamplingOpenAIConfig", "OpenAISampler", "HFSampler",
           "PerQuestionGumbel", "make_sampler", "sample_split", "check_split", "image_problem", "question_seed",
           "model_fingerprint", "records_digest", "state_path_for", "SAMPLER_VERSION"]

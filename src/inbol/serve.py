"""Generation through an OpenAI-compatible server (vLLM) at paper scale: which model a request names, what the
server must list, greedy answers with P(refusal start) from the server's log-probs.

With ``sampling.backend: openai`` every generation (sampling, evaluation, consistency, the miniature, the
unanswerable filter's base answers) goes to the server at ``sampling.openai``.  The server serves the original
model under ``sampling.openai.model`` and every trained model as a LoRA adapter of it (vLLM ``--enable-lora
--lora-modules NAME=PATH``), named by :func:`adapter_name` (``idk_it-s0``).  Each request names the model it
means, so two models never share a request, nor a cache entry (the model is part of the cache key).

A stage checks at start (:func:`require_models`, ``GET /v1/models``) that the server lists every model it
needs, and otherwise stops with one line naming the missing model and what the server lists, before any work.

P(refusal start).  The ``hf`` path computes the probability that the greedy response starts with one of the
refusal templates' first tokens from the full first-step distribution.  Through the server it is the sum of
``exp(logprob)`` over those tokens among the first token's ``evaluate.top_logprobs`` most likely ones (vLLM
returns log-probs of the model's raw distribution; ``return_tokens_as_token_ids`` names each token by its id):
a refusal token outside the top ones counts 0, less than the smallest listed probability.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

from .errors import DataError, LLMError
from .llm import image_message, system_message

BASELINES = ("base", "refusal_prompt")  # the original model, served under its own name
TOKEN_ID_PREFIX = "token_id:"  # vLLM's token names with return_tokens_as_token_ids


def adapter_name(model: str, seed: int) -> str:
    """The name the server serves a trained model's LoRA adapter under: ``<model>-s<seed>`` (the name of its
    predictions and metrics files)."""
    if not model or seed is None or int(seed) < 0:
        raise ValueError(f"a trained model needs a name and a seed (got {model!r}, {seed!r})")
    return f"{model}-s{int(seed)}"


def served_model(name: str, seed: int | None, base: str) -> str:
    """The model a request for evaluated model ``name`` (seed ``seed``) names: ``base`` (the server's base model)
    for the original model and the Refusal Prompt baseline, the adapter of a trained model otherwise."""
    if name in BASELINES:
        return base
    if seed is None:
        raise DataError(f"model {name!r}: a trained model needs its --seed (its adapter is {name}-s<seed>)")
    return adapter_name(name, seed)


def require_models(client, needed: Iterable[str]) -> list[str]:
    """The server's model list, after checking that it holds every model of ``needed``; a one-line DataError
    naming the first missing one and what the server lists otherwise."""
    listed = client.list_models()
    for m in needed:
        if m not in listed:
            where = client.url.removesuffix("/chat/completions")
            shown = ", ".join(listed[:20]) + (f" (+{len(listed) - 20} more)" if len(listed) > 20 else "")
            hint = (
                "start the server with this adapter (vllm serve --enable-lora --lora-modules, docs/gpu.md)"
                if m != client.endpoint.model
                else "serve the base model under sampling.openai.model"
            )
            raise DataError(f"the server at {where} does not list model {m!r} (it lists: {shown or 'nothing'}); {hint}")
    return listed


def p_refusal_start(first_logprobs: dict[str, float] | None, token_ids: Iterable[int]) -> float:
    """The probability of starting with one of ``token_ids`` from the first token's top log-probs (tokens named
    ``token_id:<id>``); a one-line LLMError when the server names tokens otherwise."""
    if not first_logprobs:
        return 0.0
    ids = set(token_ids)
    total = 0.0
    for token, lp in first_logprobs.items():
        if not token.startswith(TOKEN_ID_PREFIX):
            raise LLMError(
                f"the server named a token {token!r}, not 'token_id:<id>': P(refusal start) needs vLLM's "
                "return_tokens_as_token_ids"
            )
        if int(token[len(TOKEN_ID_PREFIX) :]) in ids:
            total += math.exp(lp)
    return min(total, 1.0)


class ServerGenerator:
    """Greedy answers of one served model: ``answer(records, desc)`` as :func:`inbol.models.greedy_answer_fn`
    (a response per record, or ``(response, P(refusal start))`` with ``refusal_ids``)."""

    def __init__(
        self,
        client,
        model: str,
        *,
        system: str | None = None,
        max_new_tokens: int = 12,
        prompt_suffix: str = "",
        refusal_ids: Sequence[int] | None = None,
        top_logprobs: int = 20,
        progress: bool = True,
    ):
        self.client, self.model, self.system = client, model, system
        self.max_new_tokens, self.prompt_suffix = max_new_tokens, prompt_suffix
        self.refusal_ids = None if refusal_ids is None else sorted(set(refusal_ids))
        self.top_logprobs, self.progress = top_logprobs, progress

    def request(self, record: dict) -> dict:
        system = [system_message(self.system)] if self.system else []
        extra = {"add_special_tokens": True}  # BOS in front, as the hf path (inbol.sampling.openai_backend)
        req = {
            "model": self.model,
            "messages": system + [image_message(record["question"] + self.prompt_suffix, record["image"])],
            "n": 1,
            "temperature": 0.0,
            "top_p": 1.0,
            "max_tokens": self.max_new_tokens,
        }
        if self.refusal_ids is not None:
            req.update(logprobs=True, top_logprobs=self.top_logprobs)
            extra["return_tokens_as_token_ids"] = True
        req["extra_body"] = extra
        return req

    def __call__(self, records: Sequence[dict], desc: str = "generate") -> list:
        replies = self.client.complete_many([self.request(r) for r in records], desc=desc, progress=self.progress)
        if self.refusal_ids is None:
            return [reply[0].text.strip() for reply in replies]
        return [
            (reply[0].text.strip(), p_refusal_start(reply[0].first_logprobs, self.refusal_ids)) for reply in replies
        ]


def server_client(endpoint, *, max_tokens: int = 12):
    """An :class:`inbol.llm.LLMClient` on the server of ``endpoint`` (``sampling.openai``)."""
    from .llm import LLMClient

    return LLMClient(endpoint, temperature=0.0, max_tokens=max_tokens, progress=False)


def load_processor(model_dir: str | Path):
    """The processor (tokenizer and chat template) of a model folder, following its ``source.json`` pointer;
    what the server path needs of a model (its weights stay on the server)."""
    from transformers import AutoProcessor

    path = Path(model_dir)
    pointer = path / "source.json"
    target = json.loads(pointer.read_text())["source"] if pointer.exists() else str(path)
    try:
        return AutoProcessor.from_pretrained(str(target))
    except (OSError, ValueError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise DataError(f"cannot load the processor of {model_dir!s}: {first}") from e


__all__ = [
    "BASELINES",
    "adapter_name",
    "served_model",
    "require_models",
    "p_refusal_start",
    "ServerGenerator",
    "server_answer_fn",
    "server_client",
    "load_processor",
]


def server_answer_fn(
    p, name: str, seed: int | None, model_dir: str | Path, *, prompt_suffix: str = "", refusal_score: bool = True
):
    """(``answer(records, desc)``, the served model's name) for evaluated model ``name``/``seed`` of params ``p``
    through the server of ``p.sampling.openai``; the server is checked to list the model first (one-line
    DataError).  With ``refusal_score`` each answer comes with P(refusal start), the refusal templates' first
    tokens taken from the processor of ``model_dir``."""
    from .models.generate import refusal_first_tokens
    from .models.prompt import PromptFormat
    from .refusals import REFUSAL_TEMPLATES

    served = served_model(name, seed, p.sampling.openai.model)
    client = server_client(p.sampling.openai, max_tokens=p.evaluate.max_new_tokens)
    require_models(client, [served])
    ids = None
    if refusal_score:
        ids = refusal_first_tokens(PromptFormat(load_processor(model_dir), p.prompt.system), REFUSAL_TEMPLATES)
    answer = ServerGenerator(
        client,
        served,
        system=p.prompt.system,
        max_new_tokens=p.evaluate.max_new_tokens,
        prompt_suffix=prompt_suffix,
        refusal_ids=ids,
        top_logprobs=p.evaluate.top_logprobs,
    )
    return answer, served

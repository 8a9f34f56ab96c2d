"""The project's one wrapper around the ``openai`` package (Chat Completions, OpenAI-compatible servers).

- where to call is an :class:`inbol.params.Endpoint` (``base_url`` of OpenAI or a vLLM server, model,
  timeout, retries, concurrency, cache directory; the one endpoint schema of params.yaml).  The API key
  is read from the environment variable named by ``api_key_env`` at the moment a client is built and is
  stored nowhere, so it cannot appear in a repr, a dump, a cache file, a log line or a metrics file.
  When the variable is unset the key is ``"EMPTY"`` (what vLLM servers accept).
- :class:`LLMClient`: ``chat(messages, n=1, **gen) -> [n strings]`` and ``chat_many(requests)`` with
  bounded concurrency and a progress bar; on-disk cache by request hash (see :mod:`inbol.llm.cache`);
  default generation settings are the client's (``temperature``, ``top_p``, ``max_tokens``, ``seed``).
  A request may name its own ``model`` (a LoRA adapter the server serves beside the endpoint's base model);
  the model is part of the request, so of its cache key.  ``complete_many`` also returns each choice's
  first-token top log-probs (requests with ``logprobs``/``top_logprobs``); ``list_models`` is the server's
  ``GET /models``.
- Retries are the ``openai`` SDK's own (``max_retries`` and ``timeout_s`` of the endpoint): HTTP 408, 409,
  429 and 5xx, timeouts and dropped connections (also mid-body) are retried with its exponential backoff
  (0.5 s doubling to at most 8 s, with jitter), waiting a server's ``Retry-After`` instead when it asks for at
  most two minutes (a server asking for longer is not retried).  Each retry is one warning on stderr.  When
  the last attempt fails, or on any other HTTP error, or on a body that is not a Chat Completions response,
  :class:`LLMError` is raised with a one-line message naming the status, the URL, the model, the attempts
  and what to do.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, NamedTuple

from ..errors import LLMError
from ..messages import image_data_url, image_message, system_message, user_message  # noqa: F401 (re-exported)
from ..schema.core import Endpoint
from .cache import ResponseCache, request_key

log = logging.getLogger(__name__)

DUMMY_API_KEY = "EMPTY"
GEN_KEYS = ("temperature", "top_p", "max_tokens", "seed", "stop", "extra_body")
# in a request (and its cache key) only when set, so that the keys of requests without them stay as they were
LOGPROB_KEYS = ("logprobs", "top_logprobs")
VERSION_KEY = "model_version"  # a request's served-weights hash: in its cache key, not sent
RETRY_STATUS = frozenset({408, 409, 429})  # what the SDK retries, plus every 5xx


def api_key(endpoint: Endpoint) -> str:
    """The key from the environment (``"EMPTY"`` when unset); call it, never store it."""
    return os.environ.get(endpoint.api_key_env) or DUMMY_API_KEY


# --------------------------------------------------------------------------------------------
# client
# --------------------------------------------------------------------------------------------


def _one_line(text: Any, limit: int = 200) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


class Completion(NamedTuple):
    """One choice: its text and, when asked for, ``{token: logprob}`` of the first generated token's top
    alternatives (vLLM with ``return_tokens_as_token_ids`` names tokens ``"token_id:<id>"``)."""

    text: str
    first_logprobs: dict[str, float] | None = None


def _first_logprobs(choice: dict, where: str) -> dict[str, float]:
    """The first token's top log-probs of a choice that was asked for them (a one-line LLMError otherwise)."""
    lp = choice.get("logprobs")
    content = lp.get("content") if isinstance(lp, dict) else None
    if not content:  # an empty completion has no first token: nothing is known of its distribution
        if isinstance(content, list):
            return {}
        raise LLMError(f"malformed response, {where}: asked for logprobs, the choice has none")
    first = content[0] if isinstance(content[0], dict) else {}
    top = first.get("top_logprobs")
    if not isinstance(top, list) or not all(
        isinstance(t, dict) and isinstance(t.get("token"), str) and isinstance(t.get("logprob"), (int, float))
        for t in top
    ):
        raise LLMError(f"malformed response, {where}: the first token has no list of top_logprobs")
    out = {t["token"]: float(t["logprob"]) for t in top}
    if isinstance(first.get("token"), str) and isinstance(first.get("logprob"), (int, float)):
        out.setdefault(first["token"], float(first["logprob"]))
    return out


class LLMClient:
    """Chat Completions with cache, retries and bounded concurrency.  Thread-safe."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_tokens: int = 256,
        seed: int | None = None,
        progress: bool = True,
    ):
        import openai  # the only import of the package in the project

        self.endpoint = endpoint
        self.defaults = {
            "temperature": temperature,
            "top_p": top_p,
            "max_tokens": max_tokens,
            "seed": seed,
            "stop": None,
            "extra_body": None,
        }
        self.progress = progress
        self._openai = openai
        self._client = openai.OpenAI(
            api_key=api_key(endpoint),
            base_url=endpoint.base_url,
            timeout=endpoint.timeout_s,
            max_retries=endpoint.max_retries,
            http_client=openai.DefaultHttpxClient(event_hooks={"request": [self._on_request]}),
        )
        self.url = str(self._client.base_url).rstrip("/") + "/chat/completions"
        self.cache = ResponseCache(endpoint.cache_dir) if endpoint.cache_dir else None
        self._lock = threading.Lock()
        self._tries = threading.local()  # HTTP requests the SDK sent for this thread's current call
        self.stats = {"calls": 0, "http_requests": 0, "cache_hits": 0, "retries": 0}

    def __repr__(self) -> str:
        return f"LLMClient(model={self.endpoint.model!r}, url={self.url!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _count(self, key: str, k: int = 1) -> None:
        with self._lock:
            self.stats[key] += k

    def _on_request(self, request) -> None:
        """httpx's hook on every request the SDK sends (in the calling thread): counted, each retry a warning."""
        self._count("http_requests")
        self._tries.n = getattr(self._tries, "n", 0) + 1
        if self._tries.n > 1:
            self._count("retries")
            log.warning("LLM request to %s: retry %d of %d", request.url, self._tries.n - 1, self.endpoint.max_retries)

    def _failure(self, exc: Exception, where: str) -> LLMError:
        """The one-line error of a request the SDK gave up on: what failed, where, after how many attempts,
        the server's words and what to do."""
        oa, ep = self._openai, self.endpoint
        tries = max(1, getattr(self._tries, "n", 1))
        if isinstance(exc, oa.APIStatusError):
            status = exc.status_code
            what, detail = f"HTTP {status}", _one_line(getattr(exc, "message", exc))
            wait = exc.response.headers.get("retry-after")
            if status in (401, 403):
                todo = f"check the API key in ${ep.api_key_env}"
            elif status == 404:
                todo = "check base_url and the model name (the server's GET /models lists what it serves)"
            elif status not in RETRY_STATUS and status < 500:
                todo = "not retried: the server refused this request as sent"
            elif wait and tries == 1 and ep.max_retries:
                todo = f"the server asks to wait {_one_line(wait, 40)} s, longer than the client waits: re-run then"
            else:
                todo = "re-run when the server recovers, or raise max_retries"
        elif isinstance(exc, oa.APITimeoutError):
            what, detail = "timeout", f"no answer within {ep.timeout_s:g}s"
            todo = "raise timeout_s, or re-run when the server is less busy"
        else:
            what, detail = "connection error", _one_line(exc.__cause__ or exc)
            todo = "is the server at base_url running? re-run when it answers"
        n_tries = f"after {tries} attempt{'s' if tries > 1 else ''}"
        return LLMError(f"{what} from {where} {n_tries}: {detail}; {todo}")

    # ---------------------------------------------------------------- requests
    def build_request(
        self, messages: Sequence[dict], n: int = 1, model: str | None = None, model_version: str | None = None, **gen
    ) -> dict:
        """The canonical request (also the cache key's input): model (``model``, else the endpoint's), messages,
        n and every GEN_KEYS value; ``model_version`` (a hash of the served weights, e.g. a LoRA adapter's) is
        part of the cache key only, never sent: a model retrained under the same name is asked again."""
        unknown = sorted(set(gen) - set(GEN_KEYS) - set(LOGPROB_KEYS))
        if unknown:
            allowed = ", ".join(GEN_KEYS + LOGPROB_KEYS)
            raise TypeError(f"unknown generation setting {unknown[0]!r}; allowed: {allowed}")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n = {n!r}: must be an integer >= 1")
        if not messages:
            raise ValueError("messages must not be empty")
        if model is not None and (not isinstance(model, str) or not model.strip()):
            raise ValueError(f"model = {model!r}: must be a non-empty string")
        req = {"model": model or self.endpoint.model, "messages": list(messages), "n": n}
        for k in GEN_KEYS:
            v = gen.get(k)
            req[k] = self.defaults[k] if v is None else v
        req.update({k: gen[k] for k in LOGPROB_KEYS if gen.get(k) is not None})
        if model_version is not None:
            req[VERSION_KEY] = str(model_version)
        return req

    def _coerce_request(self, item) -> dict:
        if isinstance(item, dict):
            if "messages" not in item:
                raise ValueError("a request dict needs a 'messages' key")
            rest = {k: v for k, v in item.items() if k not in ("messages", "n", "model", VERSION_KEY)}
            return self.build_request(
                item["messages"], item.get("n", 1), item.get("model"), item.get(VERSION_KEY), **rest
            )
        return self.build_request(list(item))

    # ---------------------------------------------------------------- public API
    def chat(self, messages: Sequence[dict], n: int = 1, **gen) -> list[str]:
        """``n`` completions (strings) for one conversation; cached; retried."""
        return [c.text for c in self._run(self.build_request(messages, n, **gen))]

    def chat_many(self, requests: Sequence, *, desc: str = "llm", progress: bool | None = None) -> list[list[str]]:
        """Run many requests (each a list of messages, or a dict ``{messages, n?, model?, temperature?, ...}``),
        at most ``endpoint.concurrency`` at a time; results in input order.  Cached answers are returned
        without a call.  The first failure cancels what has not started and is raised (completed calls
        stay cached, so a re-run resumes)."""
        return [[c.text for c in cs] for cs in self.complete_many(requests, desc=desc, progress=progress)]

    def complete_many(
        self, requests: Sequence, *, desc: str = "llm", progress: bool | None = None
    ) -> list[list[Completion]]:
        """As :meth:`chat_many`, each choice a :class:`Completion`: its text and, when the request asks for
        ``logprobs``/``top_logprobs``, the top log-probs of its first token."""
        from tqdm.auto import tqdm

        reqs = [self._coerce_request(r) for r in requests]
        out: list[list[Completion] | None] = [None] * len(reqs)
        todo = []
        for i, r in enumerate(reqs):
            hit = self._cache_get(r)
            if hit is not None:
                out[i] = hit
            else:
                todo.append(i)
        show = self.progress if progress is None else progress
        with tqdm(
            total=len(reqs), initial=len(reqs) - len(todo), desc=desc, disable=not show or not reqs, leave=False
        ) as bar:
            if todo:
                workers = min(self.endpoint.concurrency, len(todo))
                pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="llm")
                try:
                    futures = {pool.submit(self._run, reqs[i]): i for i in todo}
                    pending = set(futures)
                    while pending:
                        done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                        for f in done:
                            exc = f.exception()
                            if exc is not None:
                                for p in pending:
                                    p.cancel()
                                raise exc
                            out[futures[f]] = f.result()
                            bar.update(1)
                finally:
                    pool.shutdown(wait=True, cancel_futures=True)
        return out  # type: ignore[return-value]

    def list_models(self) -> list[str]:
        """The ids the server lists (``GET /models``): its base model and the LoRA adapters it serves.  A failure
        (after the endpoint's retries on connection errors and 5xx) is a one-line LLMError."""
        oa = self._openai
        url = self.url.removesuffix("/chat/completions") + "/models"
        self._tries.n = 0
        try:
            return sorted(m.id for m in self._client.models.list())
        except (oa.APIStatusError, oa.APIConnectionError) as e:
            raise self._failure(e, url) from None
        except (AttributeError, TypeError, ValueError) as e:
            raise LLMError(f"malformed response from {url}: not a model list ({_one_line(e, 120)})") from None

    # ---------------------------------------------------------------- internals
    def _cache_get(self, req: dict) -> list[Completion] | None:
        if self.cache is None:
            return None
        entry = self.cache.get_completions(request_key(req), n=req["n"])
        hit = None if entry is None else [Completion(*c) for c in entry]
        if hit is not None and req.get("logprobs") and any(c.first_logprobs is None for c in hit):
            hit = None  # an entry written without them: asked again
        if hit is not None:
            self._count("cache_hits")
            self._count("calls")
        return hit

    def _run(self, req: dict) -> list[Completion]:
        hit = self._cache_get(req)
        if hit is not None:
            return hit
        choices = self._call(req)
        if self.cache is not None:
            meta = {"model": req["model"], "n": req["n"], "gen": {k: req[k] for k in GEN_KEYS}}
            first = [c.first_logprobs for c in choices]
            self.cache.put(
                request_key(req),
                [c.text for c in choices],
                meta,
                first_logprobs=first if any(f is not None for f in first) else None,
            )
        self._count("calls")
        return choices

    def _call(self, req: dict) -> list[Completion]:
        """One request, with the SDK's retries; the body parsed here (a malformed one is not retried)."""
        oa = self._openai
        kwargs = {k: v for k, v in req.items() if v is not None and k != VERSION_KEY}
        self._tries.n = 0
        try:
            raw = self._client.chat.completions.with_raw_response.create(**kwargs)
        except (oa.APIStatusError, oa.APIConnectionError) as e:
            raise self._failure(e, f"{self.url} (model {req['model']})") from None
        return self._parse(raw.http_response.status_code, raw.http_response.text, req)

    def _parse(self, status: int, text: str, req: dict) -> list[Completion]:
        where = f"HTTP {status} from {self.url} (model {req['model']})"
        try:
            data = json.loads(text)
        except ValueError:
            raise LLMError(f"malformed response, {where}: body is not JSON: {_one_line(text, 120)!r}") from None
        choices = data.get("choices") if isinstance(data, dict) else None
        if not isinstance(choices, list) or not choices:
            raise LLMError(f"malformed response, {where}: no 'choices' list in body: {_one_line(text, 120)!r}")
        if all(isinstance(c, dict) and isinstance(c.get("index"), int) for c in choices):
            choices = sorted(choices, key=lambda c: c["index"])
        out = []
        for c in choices:
            msg = c.get("message") if isinstance(c, dict) else None
            if not isinstance(msg, dict):
                raise LLMError(f"malformed response, {where}: a choice has no 'message': {_one_line(c, 120)!r}")
            content = msg.get("content")
            if content is None:
                content = msg.get("refusal") or ""
            elif isinstance(content, list):  # some servers return content parts
                content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
            elif not isinstance(content, str):
                raise LLMError(f"malformed response, {where}: message content is {type(content).__name__}")
            out.append(Completion(content, _first_logprobs(c, where) if req.get("logprobs") else None))
        if len(out) != req["n"]:
            raise LLMError(
                f"malformed response, {where}: asked for n={req['n']} choices, got {len(out)} "
                "(does the server support n?)"
            )
        return out


__all__ = [
    "LLMClient",
    "Completion",
    "LLMError",
    "api_key",
    "image_message",
    "image_data_url",
    "user_message",
    "system_message",
    "DUMMY_API_KEY",
    "GEN_KEYS",
]

"""A local fake of the OpenAI Chat Completions endpoint, for tests.

It listens on 127.0.0.1 (random port) in a background thread, records every request and answers from a
script: one entry per call, in order, then the ``default`` responder for all later calls.  An entry is

- a :class:`Reply` (status, JSON body or raw bytes, headers, delay, a dropped connection),
- a ``dict`` (sent as a 200 JSON body),
- a callable ``f(request: dict) -> Reply | dict`` (``request`` is the recorded request, below).

The default responder answers every request with ``n`` choices whose contents come from
``answer(request, i) -> str`` (by default ``"answer {i}"``); a request with ``logprobs`` gets, per choice, its
first token's top log-probs from ``first_logprobs(request, i) -> {token: logprob}`` (tokens named as vLLM's
``return_tokens_as_token_ids`` names them, ``"token_id:<id>"``).

``GET /v1/models`` lists ``models`` (the server's base model and LoRA adapters, as vLLM lists them; by default
:data:`DEFAULT_MODELS`, the names the test suite's fakes stand for); every GET is recorded in ``gets``, not in
``requests``.

Use it directly::

    with FakeOpenAI(script=[Reply(429), completion(["red"])]) as srv:
        client = LLMClient(helpers.section("llm", base_url=srv.url, cache_dir=None), ...)

or through the ``fake_openai`` fixture (import it into a test module: ``from fake_openai import fake_openai``),
which yields a started server and stops it after the test.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

# what the fake lists unless told otherwise: the base models the tests' params name, and the LoRA adapter of
# every trained model and seed 0..2 (inbol.serve.adapter_name)
DEFAULT_MODELS = (
    "fake-model",
    "fake-llava",
    "llava-test",
    "llava-hf/llava-1.5-7b-hf",
    "llava-hf/llava-1.5-13b-hf",
    *(f"{m}-s{s}" for m in ("sft", "idk_it", "ca_dpo", "dpo_1", "dpo_2", "dpo_3") for s in range(3)),
)


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON; str/bytes -> sent as is; None -> an error object (non-200) or {}
    headers: dict = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering (to trigger client timeouts)
    drop: str | None = None  # "before": close the connection without answering; "mid": send the headers
    # and half the body, then close (a connection dropped mid-response)


def completion(contents: list[str], model: str = "fake-model") -> dict:
    """A Chat Completions response body with one choice per content string."""
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": c}, "finish_reason": "stop"}
            for i, c in enumerate(contents)
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": len(contents), "total_tokens": 1 + len(contents)},
    }


def model_list(ids: list[str]) -> dict:
    """A ``GET /v1/models`` body as vLLM sends it (adapters carry their ``parent``)."""
    return {
        "object": "list",
        "data": [{"id": m, "object": "model", "created": 0, "owned_by": "vllm", "root": m} for m in ids],
    }


def with_first_logprobs(body: dict, first: list[dict[str, float]]) -> dict:
    """A completion ``body`` whose choice i carries ``first[i]`` as its first token's top log-probs."""
    for c, top in zip(body["choices"], first):
        items = sorted(top.items(), key=lambda kv: -kv[1])
        head = items[0] if items else ("token_id:0", 0.0)
        c["logprobs"] = {
            "content": [
                {
                    "token": head[0],
                    "logprob": head[1],
                    "bytes": None,
                    "top_logprobs": [{"token": t, "logprob": lp, "bytes": None} for t, lp in items],
                }
            ]
        }
    return body


def error_body(status: int) -> dict:
    return {"error": {"message": f"fake error {status}", "type": "fake_error", "code": str(status)}}


class FakeOpenAI:
    def __init__(
        self,
        script: list | None = None,
        answer: Callable[[dict, int], str] | None = None,
        default: Callable[[dict], Reply | dict] | None = None,
        models: list[str] | None = None,
        first_logprobs: Callable[[dict, int], dict[str, float]] | None = None,
    ):
        self.script = list(script or [])
        self.answer = answer or (lambda req, i: f"answer {i}")
        self.default = default
        self.models = list(DEFAULT_MODELS if models is None else models)  # what GET /v1/models lists
        self.first_logprobs = first_logprobs or (lambda req, i: {"token_id:0": 0.0})
        self.requests: list[dict] = []  # {method, path, headers, body (parsed JSON or None), raw}
        self.gets: list[str] = []  # the paths of GET requests
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # keep test output quiet
                pass

            def do_GET(self):
                with fake._lock:
                    fake.gets.append(self.path)
                if self.path.rstrip("/").endswith("/models"):
                    status, data = 200, json.dumps(model_list(fake.models)).encode()
                else:
                    status, data = 404, json.dumps(error_body(404)).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = None
                req = {
                    "method": "POST",
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                    "raw": raw.decode("utf-8", "replace"),
                }
                reply = fake._next(req)
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body
                if payload is None:
                    payload = error_body(reply.status) if reply.status >= 400 else {}
                ctype = "application/json"
                if isinstance(payload, (dict, list)):
                    data = json.dumps(payload).encode()
                elif isinstance(payload, str):
                    data = payload.encode()
                    ctype = "text/plain"
                else:
                    data = bytes(payload)
                    ctype = "application/octet-stream"
                if reply.drop == "before":
                    self.close_connection = True
                    return
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": ctype, **reply.headers}
                    for k, v in headers.items():
                        self.send_header(k, str(v))
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    if reply.drop == "mid":
                        self.wfile.write(data[: len(data) // 2])
                        self.wfile.flush()
                        self.close_connection = True
                        return
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # client gave up (timeout test)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ state
    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        """The base_url to give an OpenAI client (``.../v1``)."""
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def n_requests(self) -> int:
        with self._lock:
            return len(self.requests)

    def bodies(self) -> list[dict]:
        with self._lock:
            return [r["body"] for r in self.requests]

    def _next(self, req: dict) -> Reply:
        with self._lock:
            self.requests.append(req)
            entry = self.script.pop(0) if self.script else None
        if entry is None:
            entry = self.default if self.default is not None else self._echo
        if callable(entry):
            entry = entry(req)
        if isinstance(entry, dict):
            entry = Reply(200, entry)
        if not isinstance(entry, Reply):
            raise TypeError(f"bad script entry {entry!r}")
        return entry

    def _echo(self, req: dict) -> Reply:
        body = req["body"] or {}
        n = int(body.get("n") or 1)
        out = completion([self.answer(body, i) for i in range(n)], model=body.get("model", "fake"))
        if body.get("logprobs"):
            out = with_first_logprobs(out, [self.first_logprobs(body, i) for i in range(n)])
        return Reply(200, out)


PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


@pytest.fixture
def no_proxy(monkeypatch):
    """Make sure loopback calls are not sent to a proxy configured in the environment."""
    for var in PROXY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture
def fake_openai(no_proxy):
    """A started :class:`FakeOpenAI`; set ``fake_openai.script`` / ``.answer`` / ``.default`` in the test."""
    srv = FakeOpenAI().start()
    try:
        yield srv
    finally:
        srv.stop()

"""A local fake of the OpenAI Chat Completions endpoint, for tests.

It listens on 127.0.0.1 (random port) in a background thread, records every request and answers from a
script: one entry per call, in order, then the ``default`` responder for all later calls.  An entry is

- a :class:`Reply` (status, JSON body or raw bytes, headers, delay, a dropped connection),
- a ``dict`` (sent as a 200 JSON body),
- a callable ``f(request: dict) -> Reply | dict`` (``request`` is the recorded request, below).

The default responder answers every request with ``n`` choices whose contents come from
``answer(request, i) -> str`` (by default ``"answer {i}"``).

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


def error_body(status: int) -> dict:
    return {"error": {"message": f"fake error {status}", "type": "fake_error", "code": str(status)}}


class FakeOpenAI:
    def __init__(
        self,
        script: list | None = None,
        answer: Callable[[dict, int], str] | None = None,
        default: Callable[[dict], Reply | dict] | None = None,
    ):
        self.script = list(script or [])
        self.answer = answer or (lambda req, i: f"answer {i}")
        self.default = default
        self.requests: list[dict] = []  # {method, path, headers, body (parsed JSON or None), raw}
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
        return Reply(200, completion([self.answer(body, i) for i in range(n)], model=body.get("model", "fake")))


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

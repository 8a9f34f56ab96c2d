"""Unit tests of the OpenAI-compatible client, against a local fake Chat Completions server."""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import threading
import time

import pytest
from PIL import Image

from fake_openai import FakeOpenAI, Reply, completion
from helpers import section
from inbol.errors import ParamError
from inbol.llm import (
    DUMMY_API_KEY,
    GEN_KEYS,
    LLMClient,
    LLMError,
    ResponseCache,
    api_key,
    image_message,
    request_key,
    user_message,
)
from inbol.params import Endpoint

SENTINEL = "sk-SENTINEL-never-write-me-0123456789"
KEY_ENV = "INBOL_TEST_LLM_KEY"


@pytest.fixture
def key(monkeypatch):
    monkeypatch.setenv(KEY_ENV, SENTINEL)
    return SENTINEL


def endpoint(url: str, **changes) -> Endpoint:
    """The `llm` endpoint of params.yaml on ``url`` (no response cache unless ``cache_dir`` is given)."""
    return section("llm", **{"base_url": url, "api_key_env": KEY_ENV, "cache_dir": None, **changes})


def make_client(srv: FakeOpenAI, tmp_path=None, **kw) -> LLMClient:
    """A client of ``srv``: keywords that are Endpoint fields go to the endpoint, the others to LLMClient."""
    ep = {
        "model": "fake-model",
        "max_retries": 3,
        "timeout_s": 5.0,
        "cache_dir": str(tmp_path / "cache") if tmp_path else None,
    }
    ep.update({k: kw.pop(k) for k in list(kw) if k in Endpoint.model_fields})
    return LLMClient(endpoint(srv.url, **ep), **{"progress": False, **kw})


@pytest.fixture
def waits(caplog):
    """``waits() -> (planned, warnings)``: the waits in seconds the openai SDK planned before each retry (it
    logs them) and the client's warnings."""
    caplog.set_level(logging.INFO, logger="openai")

    def read():
        planned = [re.match(r"Retrying request in ([\d.]+) seconds", r.getMessage()) for r in caplog.records]
        warnings = [r.getMessage() for r in caplog.records if r.name == "inbol.llm.client"]
        return [float(m.group(1)) for m in planned if m], warnings

    return read


@pytest.fixture
def png(tmp_path):
    p = tmp_path / "img.png"
    Image.new("RGB", (4, 4), (200, 10, 10)).save(p)
    return p


def _all_files_text(root) -> str:
    return "".join(p.read_text(errors="replace") for p in root.rglob("*") if p.is_file())


# ----------------------------------------------------------------------------------------------- config


def test_endpoint_params_and_validation(default_params):
    c = default_params.llm
    assert c.api_key_env == "OPENAI_API_KEY" and c.base_url is None
    for bad, key in [
        ({"timeout_s": 0}, "llm.timeout_s"),
        ({"timeout_s": "slow"}, "llm.timeout_s"),
        ({"max_retries": -1}, "llm.max_retries"),
        ({"max_retries": 101}, "llm.max_retries"),
        ({"concurrency": 0}, "llm.concurrency"),
        ({"base_url": "ftp://x"}, "llm.base_url"),
        ({"model": ""}, "llm.model"),
        ({"api_key_env": "1BAD"}, "llm.api_key_env"),
        ({"api_key": "sk-x"}, "llm.api_key"),
        ({"temperature": 0.5}, "llm.temperature"),
    ]:
        with pytest.raises(ParamError) as e:
            section("llm", **bad)
        assert str(e.value).startswith(key) and "\n" not in str(e.value)
    with pytest.raises(ParamError, match=r"^llm.api_key = 'sk-x': unknown key; allowed: api_key_env, base_url, "):
        section("llm", api_key="sk-x")
    # the sampling and judge endpoints are the same schema
    with pytest.raises(ParamError, match=r"^judge.endpoint.concurrency = 0: must be an integer in \[1, 1024\]$"):
        section("judge", endpoint={"concurrency": 0})


def test_api_key_from_env_only(monkeypatch, fake_openai):
    monkeypatch.delenv(KEY_ENV, raising=False)
    ep = endpoint(fake_openai.url)
    assert api_key(ep) == DUMMY_API_KEY == "EMPTY"
    LLMClient(ep, progress=False).chat([user_message("hi")])
    assert fake_openai.requests[-1]["headers"]["authorization"] == "Bearer EMPTY"
    monkeypatch.setenv(KEY_ENV, SENTINEL)
    assert api_key(ep) == SENTINEL
    assert SENTINEL not in repr(ep) and SENTINEL not in json.dumps(ep.model_dump())
    client = LLMClient(ep, progress=False)
    assert SENTINEL not in repr(client) and SENTINEL not in json.dumps(client.defaults)
    client.chat([user_message("hi")])
    assert fake_openai.requests[-1]["headers"]["authorization"] == f"Bearer {SENTINEL}"


# ----------------------------------------------------------------------------------------------- messages


def test_image_message_data_url(png):
    m = image_message("What color?", png)
    assert m["role"] == "user"
    img, txt = m["content"]
    assert img["type"] == "image_url" and txt == {"type": "text", "text": "What color?"}
    url = img["image_url"]["url"]
    assert url.startswith("data:image/png;base64,")
    assert base64.b64decode(url.split(",", 1)[1]) == png.read_bytes()
    assert image_message("q", None) == {"role": "user", "content": "q"}


# ----------------------------------------------------------------------------------------------- requests


def test_chat_request_and_response(fake_openai, key, png):
    fake_openai.script = [completion(["red", "blue", "green"])]
    client = make_client(fake_openai)
    out = client.chat(
        [image_message("What color is the circle?", png)], n=3, temperature=0.7, top_p=0.9, max_tokens=12, seed=5
    )
    assert out == ["red", "blue", "green"]
    req = fake_openai.requests[0]
    assert req["path"] == "/v1/chat/completions"
    body = req["body"]
    assert body["model"] == "fake-model" and body["n"] == 3 and body["temperature"] == 0.7
    assert body["top_p"] == 0.9 and body["max_tokens"] == 12 and body["seed"] == 5
    url = body["messages"][0]["content"][0]["image_url"]["url"]
    assert url == "data:image/png;base64," + base64.b64encode(png.read_bytes()).decode()
    assert body["messages"][0]["content"][1]["text"] == "What color is the circle?"
    assert req["headers"]["authorization"] == f"Bearer {key}"
    assert "stop" not in body  # None settings are not sent


def test_client_defaults_are_sent(fake_openai, key):
    client = make_client(fake_openai, temperature=1.0, top_p=0.95, max_tokens=7)
    client.chat([user_message("hi")])
    body = fake_openai.bodies()[0]
    assert body["temperature"] == 1.0 and body["top_p"] == 0.95 and body["max_tokens"] == 7 and body["n"] == 1
    assert "seed" not in body


def test_extra_body_is_sent_and_keys_the_cache(fake_openai, key, tmp_path):
    assert GEN_KEYS == ("temperature", "top_p", "max_tokens", "seed", "stop", "extra_body")
    client = make_client(fake_openai, tmp_path)
    client.chat([user_message("hi")], extra_body={"top_k": 5})
    body = fake_openai.bodies()[0]
    assert body["top_k"] == 5 and "extra_body" not in body
    client.chat([user_message("hi")], extra_body={"top_k": 5})
    assert fake_openai.n_requests == 1  # the same request: a cache hit
    client.chat([user_message("hi")], extra_body={"top_k": 6})
    client.chat([user_message("hi")])
    assert fake_openai.n_requests == 3 and "top_k" not in fake_openai.bodies()[-1]


def test_choices_sorted_by_index_and_null_content(fake_openai, key):
    body = completion(["first", "second"])
    body["choices"] = body["choices"][::-1]
    fake_openai.script = [body, {"choices": [{"index": 0, "message": {"role": "assistant", "content": None}}]}]
    client = make_client(fake_openai)
    assert client.chat([user_message("hi")], n=2) == ["first", "second"]
    assert client.chat([user_message("ho")]) == [""]


def test_bad_arguments(fake_openai):
    client = make_client(fake_openai)
    with pytest.raises(TypeError, match="unknown generation setting 'beam'"):
        client.chat([user_message("hi")], beam=3)
    with pytest.raises(ValueError, match="n = 0"):
        client.chat([user_message("hi")], n=0)
    with pytest.raises(ValueError, match="messages"):
        client.chat([])
    assert fake_openai.n_requests == 0


# ----------------------------------------------------------------------------------------------- retries


def test_429_then_success_is_retried(fake_openai, key, waits):
    fake_openai.script = [Reply(429), completion(["ok"])]
    client = make_client(fake_openai)
    assert client.chat([user_message("hi")]) == ["ok"]
    assert fake_openai.n_requests == 2 and client.stats["retries"] == 1 and client.stats["http_requests"] == 2
    planned, warnings = waits()
    assert len(planned) == 1
    assert warnings == [f"LLM request to {fake_openai.url}/chat/completions: retry 1 of 3"]


def test_5xx_then_success_with_exponential_backoff(fake_openai, key, waits):
    fake_openai.script = [Reply(500), Reply(502), Reply(503), completion(["ok"])]
    client = make_client(fake_openai, max_retries=3)
    assert client.chat([user_message("hi")]) == ["ok"]
    assert fake_openai.n_requests == 4
    planned, _ = waits()
    # the SDK's backoff: 0.5 s doubling per retry, less up to a quarter of jitter
    assert len(planned) == 3 and all(0.375 * 2**i <= w <= 0.5 * 2**i for i, w in enumerate(planned)), planned


def test_retry_after_header_is_honoured(fake_openai, key, waits):
    fake_openai.script = [
        Reply(429, headers={"Retry-After": "0.3"}),
        Reply(503, headers={"Retry-After": "0.6"}),
        completion(["ok"]),
    ]
    client = make_client(fake_openai)
    assert client.chat([user_message("hi")]) == ["ok"]
    assert waits()[0] == [0.3, 0.6]


def test_a_retry_after_beyond_two_minutes_is_a_one_line_error_at_once(fake_openai, key):
    fake_openai.default = lambda req: Reply(429, headers={"Retry-After": "600"})
    client = make_client(fake_openai)
    with pytest.raises(LLMError) as e:
        client.chat([user_message("hi")])
    msg = str(e.value)
    assert msg.startswith(f"HTTP 429 from {fake_openai.url}/chat/completions (model fake-model) after 1 attempt:")
    assert msg.endswith("the server asks to wait 600 s, longer than the client waits: re-run then")
    assert "\n" not in msg and fake_openai.n_requests == 1


def test_retries_exhausted_raise_one_line_error(fake_openai, key):
    fake_openai.default = lambda req: Reply(429)
    client = make_client(fake_openai, max_retries=2)
    with pytest.raises(LLMError) as e:
        client.chat([user_message("hi")])
    msg = str(e.value)
    assert "HTTP 429" in msg and fake_openai.url + "/chat/completions" in msg and "fake-model" in msg
    assert "after 3 attempts" in msg and "\n" not in msg and SENTINEL not in msg
    assert msg.endswith("; re-run when the server recovers, or raise max_retries")
    assert fake_openai.n_requests == 3


def test_persistent_500_raises(fake_openai, key):
    fake_openai.default = lambda req: Reply(500)
    client = make_client(fake_openai, max_retries=1)
    with pytest.raises(LLMError, match=r"HTTP 500 .*model fake-model.* after 2 attempts"):
        client.chat([user_message("hi")])


def test_client_errors_are_not_retried(fake_openai, key):
    fake_openai.script = [Reply(400), Reply(401), Reply(404)]
    client = make_client(fake_openai)
    todo = {
        400: "not retried: the server refused this request as sent",
        401: f"check the API key in ${KEY_ENV}",
        404: "check base_url and the model name (the server's GET /models lists what it serves)",
    }
    for status in (400, 401, 404):
        with pytest.raises(LLMError, match=f"HTTP {status} .* after 1 attempt:") as e:
            client.chat([user_message(f"hi {status}")])
        assert str(e.value).endswith(f"; {todo[status]}") and SENTINEL not in str(e.value)
    assert fake_openai.n_requests == 3


def test_dropped_connections_are_retried(fake_openai):
    fake_openai.script = [Reply(drop="before"), Reply(200, completion(["late"]), drop="mid"), completion(["ok"])]
    client = make_client(fake_openai, model="m", max_retries=2)
    assert client.chat([user_message("hi")]) == ["ok"]
    assert client.stats["retries"] == 2 and fake_openai.n_requests == 3


def test_a_connection_that_always_drops_is_a_one_line_error(fake_openai, tmp_path):
    fake_openai.default = lambda req: Reply(drop="before")
    client = make_client(fake_openai, tmp_path, model="m", max_retries=2)
    with pytest.raises(LLMError) as e:
        client.chat([user_message("hi")])
    msg = str(e.value)
    assert msg.startswith(f"connection error from {fake_openai.url}/chat/completions (model m) after 3 attempts")
    assert "\n" not in msg and fake_openai.n_requests == 3 and len(ResponseCache(tmp_path / "cache")) == 0


def test_timeout_is_retried(fake_openai, key):
    fake_openai.script = [Reply(200, completion(["late"]), delay=1.0), completion(["ok"])]
    client = make_client(fake_openai, timeout_s=0.2)
    assert client.chat([user_message("hi")]) == ["ok"]
    assert client.stats["retries"] == 1


def test_timeouts_exhausted(fake_openai, key):
    fake_openai.default = lambda req: Reply(200, completion(["late"]), delay=0.6)
    client = make_client(fake_openai, timeout_s=0.15, max_retries=1)
    with pytest.raises(LLMError, match="timeout from .* after 2 attempts: no answer within 0.15s; raise timeout_s"):
        client.chat([user_message("hi")])


def test_connection_error_is_retried_then_raised(key, no_proxy):
    with socket.socket() as s:  # a loopback port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ep = endpoint(f"http://127.0.0.1:{port}/v1", model="m", max_retries=2, timeout_s=2.0)
    client = LLMClient(ep, progress=False)
    with pytest.raises(
        LLMError,
        match=f"connection error from http://127.0.0.1:{port}/v1/chat/completions "
        r"\(model m\) after 3 attempts",
    ):
        client.chat([user_message("hi")])
    assert client.stats["retries"] == 2


# ----------------------------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    "body, what",
    [
        ("<html>Bad Gateway</html>", "body is not JSON"),
        ({"id": "x", "object": "chat.completion"}, "no 'choices' list"),
        ({"choices": []}, "no 'choices' list"),
        ({"choices": [{"index": 0, "text": "legacy"}]}, "has no 'message'"),
        ({"choices": [{"index": 0, "message": {"content": 3}}]}, "content is int"),
        ([1, 2], "no 'choices' list"),
    ],
)
def test_malformed_body_raises_clear_error(fake_openai, key, tmp_path, body, what):
    fake_openai.script = [Reply(200, body)]
    client = make_client(fake_openai, tmp_path)
    with pytest.raises(LLMError) as e:
        client.chat([user_message("hi")])
    msg = str(e.value)
    assert msg.startswith("malformed response, HTTP 200 from http://127.0.0.1") and what in msg
    assert "fake-model" in msg and "\n" not in msg
    assert fake_openai.n_requests == 1  # not retried
    assert len(ResponseCache(tmp_path / "cache")) == 0  # and nothing cached


def test_wrong_number_of_choices(fake_openai, key):
    fake_openai.script = [completion(["only one"])]
    client = make_client(fake_openai)
    with pytest.raises(LLMError, match="asked for n=4 choices, got 1"):
        client.chat([user_message("hi")], n=4)


# ----------------------------------------------------------------------------------------------- cache


def test_cache_hit_sends_no_request(fake_openai, key, tmp_path, png):
    client = make_client(fake_openai, tmp_path)
    msgs = [image_message("What?", png)]
    a = client.chat(msgs, n=2, temperature=0.5)
    assert fake_openai.n_requests == 1
    b = client.chat(msgs, n=2, temperature=0.5)
    assert a == b and fake_openai.n_requests == 1 and client.stats["cache_hits"] == 1
    # a fresh client (a new run) on the same cache: still no request
    client2 = make_client(fake_openai, tmp_path)
    assert client2.chat(msgs, n=2, temperature=0.5) == a and fake_openai.n_requests == 1
    # anything in the request that changes the output changes the key
    client.chat(msgs, n=2, temperature=0.6)
    client.chat(msgs, n=3, temperature=0.5)
    client.chat(msgs, n=2, temperature=0.5, seed=1)
    client.chat(msgs, n=2, temperature=0.5, max_tokens=3)
    client.chat([image_message("What else?", png)], n=2, temperature=0.5)
    make_client(fake_openai, tmp_path, model="other-model").chat(msgs, n=2, temperature=0.5)
    assert fake_openai.n_requests == 7


def test_api_key_never_in_cache_and_not_in_key(fake_openai, tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, SENTINEL)
    client = make_client(fake_openai, tmp_path)
    client.chat([user_message("hi")], n=2)
    text = _all_files_text(tmp_path)
    assert text and SENTINEL not in text
    files = list((tmp_path / "cache").rglob("*.json"))
    assert len(files) == 1 and not list((tmp_path / "cache").rglob("*.tmp"))
    entry = json.loads(files[0].read_text())
    assert entry["choices"] == ["answer 0", "answer 1"] and entry["model"] == "fake-model"
    assert files[0].stem == entry["key"] == request_key(client.build_request([user_message("hi")], n=2))
    # another key, same request: the cache still hits (the key is not part of the request hash)
    monkeypatch.setenv(KEY_ENV, "sk-other")
    make_client(fake_openai, tmp_path).chat([user_message("hi")], n=2)
    assert fake_openai.n_requests == 1


def test_request_key_is_canonical():
    a = {"model": "m", "n": 1, "messages": [{"role": "user", "content": "x"}], "temperature": 0.0}
    b = {"temperature": 0.0, "messages": [{"content": "x", "role": "user"}], "n": 1, "model": "m"}
    assert request_key(a) == request_key(b) and len(request_key(a)) == 64
    assert request_key(a) != request_key({**a, "n": 2})


def test_corrupt_or_partial_cache_entry_is_a_miss(fake_openai, key, tmp_path):
    client = make_client(fake_openai, tmp_path)
    req = client.build_request([user_message("hi")])
    path = client.cache.path(request_key(req))
    path.parent.mkdir(parents=True)
    path.write_text('{"key": "' + request_key(req) + '", "choices": ["half')  # truncated JSON
    assert client.chat([user_message("hi")]) == ["answer 0"] and fake_openai.n_requests == 1
    assert json.loads(path.read_text())["choices"] == ["answer 0"]
    # an entry with the wrong number of choices is not a hit for n=2
    cache = ResponseCache(tmp_path / "c2")
    cache.put("ab" * 32, ["x"])
    assert cache.get("ab" * 32, n=2) is None and cache.get("ab" * 32, n=1) == ["x"]
    assert cache.get("cd" * 32) is None


# ----------------------------------------------------------------------------------------------- many


def test_chat_many_order_and_bounded_concurrency(fake_openai, key):
    state = {"now": 0, "max": 0}
    lock = threading.Lock()

    def slow(req):
        with lock:
            state["now"] += 1
            state["max"] = max(state["max"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1
        body = req["body"]
        text = body["messages"][-1]["content"]
        return completion([f"{text}-{i}" for i in range(body["n"])])

    fake_openai.default = slow
    client = make_client(fake_openai, concurrency=3)
    reqs = [[user_message(f"q{i}")] for i in range(10)] + [
        {"messages": [user_message("multi")], "n": 2, "temperature": 0.9}
    ]
    out = client.chat_many(reqs)
    assert out[:10] == [[f"q{i}-0"] for i in range(10)] and out[10] == ["multi-0", "multi-1"]
    assert 1 < state["max"] <= 3
    assert [b["n"] for b in fake_openai.bodies() if b["temperature"] == 0.9] == [2]


def test_chat_many_resumes_from_cache_after_failure(fake_openai, key, tmp_path):
    def fail_q3(req):
        text = req["body"]["messages"][-1]["content"]
        if text == "q3":
            return Reply(400)
        return completion([f"ans {text}"])

    fake_openai.default = fail_q3
    client = make_client(fake_openai, tmp_path, concurrency=1)
    reqs = [[user_message(f"q{i}")] for i in range(6)]
    with pytest.raises(LLMError, match="HTTP 400"):
        client.chat_many(reqs)
    done = fake_openai.n_requests
    assert 4 <= done <= 6  # q0..q3 at least (workers=1: in order)
    cached = len(ResponseCache(tmp_path / "cache"))
    assert cached == done - 1  # every completed call is cached, the failed one is not
    # the re-run (server fixed) repeats no completed call
    fake_openai.default = lambda req: completion([f"ans {req['body']['messages'][-1]['content']}"])
    out = make_client(fake_openai, tmp_path).chat_many(reqs)
    assert out == [[f"ans q{i}"] for i in range(6)]
    assert fake_openai.n_requests == done + (6 - cached)


def test_chat_many_empty_and_all_cached(fake_openai, key, tmp_path):
    client = make_client(fake_openai, tmp_path)
    assert client.chat_many([]) == []
    reqs = [[user_message("a")], [user_message("b")]]
    first = client.chat_many(reqs, progress=True)
    assert client.chat_many(reqs) == first and fake_openai.n_requests == 2
    with pytest.raises(ValueError, match="'messages'"):
        client.chat_many([{"n": 1}])


# ----------------------------------------------------------------------------------------------- serving


def test_a_request_names_its_own_model_and_the_model_keys_the_cache(fake_openai, key, tmp_path):
    """A request for a LoRA adapter names it (not the endpoint's base model); the same conversation for two
    models is two cache entries, never one answered for the other."""
    client = make_client(fake_openai, tmp_path)
    fake_openai.answer = lambda body, i: body["model"]
    msgs = [user_message("hi")]
    out = client.chat_many([{"messages": msgs}, {"messages": msgs, "model": "idk_it-s0"}])
    assert out == [["fake-model"], ["idk_it-s0"]]
    assert sorted(b["model"] for b in fake_openai.bodies()) == ["fake-model", "idk_it-s0"]  # concurrent
    again = make_client(fake_openai, tmp_path).chat_many([{"messages": msgs, "model": "idk_it-s0"}])
    assert again == [["idk_it-s0"]] and fake_openai.n_requests == 2  # a cache hit, of its own model
    r1 = client.build_request(msgs, model="idk_it-s0")
    r2 = client.build_request(msgs, model="ca_dpo-s0")
    assert request_key(r1) != request_key(r2) != request_key(client.build_request(msgs))
    assert request_key(client.build_request(msgs)) == request_key(client.build_request(msgs, model="fake-model"))
    with pytest.raises(ValueError, match="model = ''"):
        client.build_request(msgs, model="")


def test_first_token_logprobs_are_parsed_and_cached(fake_openai, key, tmp_path):
    fake_openai.first_logprobs = lambda body, i: {"token_id:7": -0.5, "token_id:9": -1.5}
    client = make_client(fake_openai, tmp_path)
    req = {"messages": [user_message("hi")], "logprobs": True, "top_logprobs": 2}
    [[c]] = client.complete_many([req])
    assert c.text == "answer 0" and c.first_logprobs == {"token_id:7": -0.5, "token_id:9": -1.5}
    body = fake_openai.bodies()[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 2
    [[again]] = make_client(fake_openai, tmp_path).complete_many([req])
    assert again == c and fake_openai.n_requests == 1
    # a request without them keeps its old form (and cache key): no logprobs keys at all
    client.chat([user_message("hi")])
    assert "logprobs" not in fake_openai.bodies()[-1] and "top_logprobs" not in fake_openai.bodies()[-1]


def test_missing_logprobs_are_a_one_line_error(fake_openai, key):
    fake_openai.script = [completion(["x"])]
    client = make_client(fake_openai, max_retries=0)
    with pytest.raises(LLMError, match=r"^malformed response, HTTP 200 .*asked for logprobs, the choice has none$"):
        client.complete_many([{"messages": [user_message("hi")], "logprobs": True, "top_logprobs": 5}])


def test_list_models(fake_openai, key):
    fake_openai.models = ["base-7b", "idk_it-s0"]
    client = make_client(fake_openai, max_retries=0)
    assert client.list_models() == ["base-7b", "idk_it-s0"] and fake_openai.gets == ["/v1/models"]


def test_list_models_of_a_dead_server_is_one_line(key, no_proxy):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = LLMClient(endpoint(f"http://127.0.0.1:{port}/v1", model="m", max_retries=1, timeout_s=2.0), progress=False)
    with pytest.raises(LLMError, match=r"^connection error from http://127.0.0.1:\d+/v1/models after 2 attempt"):
        client.list_models()

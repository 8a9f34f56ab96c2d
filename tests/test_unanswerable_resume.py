"""An `openai` generation run of unanswerable questions killed midway and started again sends no request
twice (counted at a local test server) and ends with the same output as an uninterrupted run."""

import hashlib
import json

import pytest

from fake_openai import FakeOpenAI, Reply
from helpers import section
from inbol.errors import LLMError
from inbol.io import read_jsonl
from inbol.llm import LLMClient
from inbol.unanswerable import generate_unanswerable
from inbol.world import load_scenes


def _answer(req, i):
    # a deterministic answer per image (the data URL differs per image)
    parts = [p for m in req["messages"] if isinstance(m["content"], list) for p in m["content"]]
    url = next(p["image_url"]["url"] for p in parts if p.get("type") == "image_url")
    tag = hashlib.sha256(url.encode()).hexdigest()[:8]
    return json.dumps([{"question": f"Who painted shape {tag}?", "explanation": "not in the image"}])


@pytest.fixture(scope="module")
def world(tiny_world):
    """(pool records, scenes, the folder the records' image paths resolve against)."""
    return read_jsonl(tiny_world["dir"] / "pool.jsonl"), load_scenes(tiny_world["dir"]), tiny_world["root"]


def _run(url, cache, records, scenes, image_root):
    cfg = section("unanswerable.generate", backend="openai", mix={"swap": 0.0, "generate": 1.0}, per_image=1)
    endpoint = section("llm", base_url=url, model="fake", cache_dir=str(cache), max_retries=0, concurrency=1)
    client = LLMClient(endpoint, temperature=cfg.temperature, max_tokens=cfg.max_tokens, progress=False)
    return generate_unanswerable(records, scenes, cfg, client=client, image_root=image_root)


def _distinct_bodies(server):
    return [json.dumps(r["body"], sort_keys=True) for r in server.requests if r["body"]]


def test_killed_openai_generation_resumes_without_repeating_requests(world, tmp_path, no_proxy):
    records, scenes, root = world
    # uninterrupted reference run
    with FakeOpenAI(answer=_answer) as srv:
        expected, _ = _run(srv.url, tmp_path / "ref_cache", records, scenes, root)
        assert srv.n_requests == len(records)  # one call per image, nothing swapped
    assert len(expected) == len(records)

    # the first run dies after 5 answered calls (the server goes away: every later call fails)
    with FakeOpenAI(answer=_answer) as srv:
        srv.default = lambda req: srv._echo(req) if len(srv.requests) <= 5 else Reply(503)
        with pytest.raises(LLMError):
            _run(srv.url, tmp_path / "cache", records, scenes, root)
        answered = _distinct_bodies(srv)[:5]

    # the re-run against a healthy server: only the calls that never completed are sent
    with FakeOpenAI(answer=_answer) as srv:
        got, _ = _run(srv.url, tmp_path / "cache", records, scenes, root)
        second = _distinct_bodies(srv)
    assert got == expected
    assert len(second) == len(records) - 5
    assert not set(second) & set(answered)
    assert len(set(second)) == len(second)

"""Issue target: an `openai` generation run killed midway and started again sends no request twice (counted
at a local test server) and ends with the same output as an uninterrupted run."""
import dataclasses
import hashlib
import json

import pytest

from fake_openai import FakeOpenAI, Reply, no_proxy  # noqa: F401  (fixture)
from inbol.config import from_dict
from inbol.io import read_jsonl
from inbol.llm import LLMClient, LLMConfig, LLMError
from inbol.unanswerable import UnanswerableGenerateConfig, generate_unanswerable
from inbol.world import WorldConfig, build_world, load_scenes


def _answer(req, i):
    # a deterministic answer per image (the data URL differs per image)
    parts = [p for m in req["messages"] if isinstance(m["content"], list) for p in m["content"]]
    url = next(p["image_url"]["url"] for p in parts if p.get("type") == "image_url")
    tag = hashlib.sha256(url.encode()).hexdigest()[:8]
    return json.dumps([{"question": f"Who painted shape {tag}?", "explanation": "not in the image"}])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("w")
    build_world(from_dict(WorldConfig, {"sizes": {"corpus": 4, "pool": 12, "test": 2, "ood_hard": 2,
                                                  "ood_phrasing": 2, "ood_choice": 2},
                                        "n_emblems": 5, "emblem_max_exposure": 2}, "world"), out)
    return read_jsonl(out / "pool.jsonl"), load_scenes(out)


def _run(url, cache, records, scenes):
    cfg = from_dict(UnanswerableGenerateConfig, {"backend": "openai", "mix": {"generate": 1.0}, "per_image": 1},
                    "unanswerable.generate")
    llm = LLMConfig(base_url=url, model="fake", cache_dir=str(cache), max_retries=0, concurrency=1, progress=False)
    client = LLMClient(dataclasses.replace(llm, temperature=cfg.temperature, max_tokens=cfg.max_tokens))
    return generate_unanswerable(records, scenes, cfg, client=client)


def _distinct_bodies(server):
    return [json.dumps(r["body"], sort_keys=True) for r in server.requests if r["body"]]


def test_killed_openai_generation_resumes_without_repeating_requests(world, tmp_path, no_proxy):
    records, scenes = world
    # uninterrupted reference run
    with FakeOpenAI(answer=_answer) as srv:
        expected, _ = _run(srv.url, tmp_path / "ref_cache", records, scenes)
    assert len(expected) == len(records)

    # the first run dies after 5 answered calls (the server goes away: every later call fails)
    with FakeOpenAI(answer=_answer) as srv:
        srv.default = lambda req: srv._echo(req) if len(srv.requests) <= 5 else Reply(503)
        with pytest.raises(LLMError):
            _run(srv.url, tmp_path / "cache", records, scenes)
        answered = _distinct_bodies(srv)[:5]

    # the re-run against a healthy server: only the calls that never completed are sent
    with FakeOpenAI(answer=_answer) as srv:
        got, _ = _run(srv.url, tmp_path / "cache", records, scenes)
        second = _distinct_bodies(srv)
    assert got == expected
    assert len(second) == len(records) - 5
    assert not set(second) & set(answered)
    assert len(set(second)) == len(second)

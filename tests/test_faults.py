"""LLM endpoint faults and resume at the level of the stage scripts (`python stages/<x>.py <paths>`, as dvc
runs them) against a local fake OpenAI server: HTTP 500, 429, garbage bodies, timeouts and dropped
connections are retried, then fail with one line on stderr and exit code 3; completed calls stay in the
on-disk cache and a re-run sends only the calls that never completed; no output is left looking complete
(the `sample` stage writes its completion marker `data/samples/stats.json` and its metrics last).  A
sampling run killed with SIGKILL midway resumes and ends byte-identical to an uninterrupted run.

Client-level retries of each status, and of dropped connections, are in test_llm.py."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from fake_openai import FakeOpenAI, Reply, completion
from helpers import ROOT, run_stage_script, world_cfg, write_params
from inbol.llm import ResponseCache
from inbol.world import build_world

pytestmark = pytest.mark.e2e

SPLITS = {"pool": 24, "test": 8}
N_QUESTIONS = sum(SPLITS.values())
K = 3

# each stage's paths, as its `cmd:` in dvc.yaml gives them
STAGE_ARGS = {
    "sample.py": (
        "--world",
        "data/world",
        "--model",
        "models/base",
        "--out",
        "data/samples",
        "--metrics",
        "metrics/sampling.json",
    ),
    "judge.py": ("--world", "data/world", "--samples", "data/samples", "--out", "data/judged"),
    "unanswerable_generate.py": (
        "--world",
        "data/world",
        "--out",
        "data/unanswerable/generated.jsonl",
        "--stats",
        "data/unanswerable/generated_stats.json",
    ),
}


# ------------------------------------------------------------------------------------------------ helpers


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A minimal project directory: a tiny world under data/world (paths relative to the root), and the
    project's stage scripts (a link to stages/)."""
    root = tmp_path_factory.mktemp("faults") / "proj"
    cfg = world_cfg(
        sizes={"corpus": 4, **SPLITS, "ood_hard": 2, "ood_phrasing": 2, "ood_choice": 2, "val": 4, "val_ood": 2},
        n_emblems=5,
        emblem_max_exposure=2,
    )
    build_world(cfg, root / "data" / "world", image_prefix="data/world")
    (root / "stages").symlink_to(ROOT / "stages", target_is_directory=True)
    return root


def _copy(project: Path, dest: Path) -> Path:
    shutil.copytree(project, dest, symlinks=True)
    return dest


def _params(repo: Path, url: str, more: dict | None = None, **openai) -> None:
    """A complete params.yaml: the openai backends on the fake server at ``url``, cached under data/llm_cache
    (``openai``: changes of sampling.openai; ``more``: of other sections)."""
    o = {
        "model": "fake-llava",
        "base_url": url,
        "max_retries": 1,
        "timeout_s": 5.0,
        "concurrency": 4,
        "cache_dir": "data/llm_cache",
        **openai,
    }
    write_params(
        repo,
        sampling={"backend": "openai", "k": K, "batch_size": 8, "splits": list(SPLITS), "openai": o},
        unanswerable={
            "generate": {
                "backend": "openai",
                "n_images": 4,
                "per_image": 2,
                "mix": {"swap": 0.0, "generate": 1.0},
                "model": "fake-gpt",
            }
        },
        llm={"base_url": url, "max_retries": 1, "timeout_s": 5.0, "concurrency": 2, "cache_dir": "data/llm_cache"},
        **(more or {}),
    )


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", "PYTHONUNBUFFERED": "1"}


def _stage(repo: Path, script: str, timeout: int = 120) -> subprocess.CompletedProcess:
    """``python stages/<script>`` in ``repo`` with the paths of its dvc.yaml command."""
    return run_stage_script(repo, script, *STAGE_ARGS[script], timeout=timeout)


def _rerun_with_healthy_server(repo):
    """Run the sample stage again against a server that always answers; (process, request bodies sent)."""
    with FakeOpenAI(default=_ok) as srv:
        _params(repo, srv.url)
        proc = _stage(repo, "sample.py")
        return proc, [json.dumps(r["body"], sort_keys=True) for r in srv.requests]


def _answer(body: dict, i: int) -> str:
    return f"{body.get('seed')}-{i}"  # deterministic per request (the seed is per question)


def _ok(req) -> Reply:
    body = req["body"] or {}
    return Reply(200, completion([_answer(body, i) for i in range(int(body.get("n") or 1))]))


def _outputs(repo: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((repo / "data" / "samples").glob("*.jsonl"))}


def _error_line(stderr: str) -> str:
    """The stage's one error line: the last line of stderr, the only one starting with 'error:', and no
    traceback."""
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert "Traceback" not in stderr and len(errors) == 1 and lines[-1] == errors[0], stderr[-2000:]
    return errors[0]


def _leftovers(repo: Path) -> list[str]:
    return [str(p.relative_to(repo)) for p in repo.rglob("*") if p.name.endswith(".tmp")]


def _assert_incomplete(repo: Path) -> None:
    """Nothing of a failed `sample` run looks like a finished one."""
    samples = repo / "data" / "samples"
    assert not (samples / "stats.json").exists() and not (repo / "metrics" / "sampling.json").exists()
    lines = sum(len(p.read_bytes().splitlines()) for p in samples.glob("*.jsonl")) if samples.exists() else 0
    assert lines < N_QUESTIONS
    assert not _leftovers(repo)


@pytest.fixture(scope="module")
def reference(project, tmp_path_factory):
    """The outputs of an uninterrupted `sample` run against a healthy server."""
    repo = _copy(project, tmp_path_factory.mktemp("ref") / "repo")
    with FakeOpenAI(default=_ok) as srv:
        _params(repo, srv.url)
        proc = _stage(repo, "sample.py")
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert srv.n_requests == N_QUESTIONS
    stats = json.loads((repo / "data" / "samples" / "stats.json").read_text())
    assert {s: v["n_sampled"] for s, v in stats["splits"].items()} == SPLITS
    return _outputs(repo)


# ------------------------------------------------------------------------------------------------ stages

FAULTS = {
    "500": (lambda req: Reply(500), r"HTTP 500 from .* after 2 attempts"),
    "429": (lambda req: Reply(429, headers={"Retry-After": "0"}), r"HTTP 429 from .* after 2 attempts"),
    "garbage": (lambda req: Reply(200, "<html>502 Bad Gateway</html>"), r"malformed response, HTTP 200 .*not JSON"),
    "timeout": (lambda req: Reply(200, completion(["late"]), delay=1.0), r"timeout from .* after 2 attempts"),
    "dropped": (lambda req: Reply(drop="before"), r"connection error from .* after 2 attempts"),
    "dropped_mid_body": (
        lambda req: Reply(200, completion(["x"] * K), drop="mid"),
        r"connection error from .* after 2 attempts",
    ),
}
N_OK = 10  # the server answers this many calls, then fails every call the same way
RERUN = ("500", "dropped_mid_body")  # re-run against a healthy server (the other faults fail the same way)


@pytest.mark.parametrize("fault", list(FAULTS))
def test_sample_stage_fault_fails_cleanly_and_the_rerun_resumes(fault, project, reference, tmp_path, no_proxy):
    bad, pattern = FAULTS[fault]
    repo = _copy(project, tmp_path / "repo")
    answered = []
    lock = threading.Lock()

    def flaky(req):
        with lock:
            if len(answered) < N_OK:
                answered.append(json.dumps(req["body"], sort_keys=True))
                return _ok(req)
        return bad(req)

    with FakeOpenAI(default=flaky) as srv:
        _params(repo, srv.url, timeout_s=0.3 if fault == "timeout" else 5.0)
        proc = _stage(repo, "sample.py")
    assert proc.returncode == 3, proc.stderr[-2000:]
    line = _error_line(proc.stderr)  # above it: progress bars and one warning per retry
    assert re.match(r"^error: " + pattern, line) and "(model fake-llava)" in line, line
    _assert_incomplete(repo)
    cached = len(ResponseCache(repo / "data" / "llm_cache"))
    assert cached == N_OK  # every completed call survived, no failed one was cached

    if fault not in RERUN:
        return
    # the server recovers: the re-run sends only the calls that never completed and ends as the reference
    proc, again = _rerun_with_healthy_server(repo)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(again) == N_QUESTIONS - N_OK and not set(again) & set(answered)
    assert _outputs(repo) == reference
    assert (repo / "data" / "samples" / "stats.json").is_file() and not _leftovers(repo)


def test_sample_stage_killed_midway_resumes_byte_identical(project, reference, tmp_path, no_proxy):
    """SIGKILL while calls are in flight: the batches written stay, the completed calls stay cached, the
    re-run repeats none of them and ends byte-identical to the uninterrupted run."""
    repo = _copy(project, tmp_path / "repo")
    n_done, release, lock, served = 20, threading.Event(), threading.Lock(), []

    def stalls(req):
        with lock:
            first = len(served) < n_done
            if first:
                served.append(json.dumps(req["body"], sort_keys=True))
        if not first:
            release.wait(30)  # hangs until the process is killed
        return _ok(req)

    with FakeOpenAI(default=stalls) as srv:
        _params(repo, srv.url)
        proc = subprocess.Popen(
            [sys.executable, "stages/sample.py", *STAGE_ARGS["sample.py"]],
            cwd=repo,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        cache = ResponseCache(repo / "data" / "llm_cache")
        deadline = time.monotonic() + 60
        try:
            while not (len(cache) >= n_done and srv.n_requests > n_done):
                assert proc.poll() is None and time.monotonic() < deadline, "the stage ended before the kill"
                time.sleep(0.02)
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
            release.set()
    assert proc.returncode == -signal.SIGKILL
    _assert_incomplete(repo)
    assert len(cache) == n_done
    pool = (repo / "data" / "samples" / "pool.jsonl").read_bytes()
    assert pool == b"".join(reference["pool.jsonl"].splitlines(keepends=True)[:16])  # two whole batches of 8

    proc2, again = _rerun_with_healthy_server(repo)
    assert proc2.returncode == 0, proc2.stderr[-2000:]
    assert len(again) == N_QUESTIONS - n_done and not set(again) & set(served)
    assert _outputs(repo) == reference
    metrics = json.loads((repo / "metrics" / "sampling.json").read_text())
    assert metrics["splits"]["pool"]["n_resumed"] == 16 and metrics["splits"]["test"]["n_resumed"] == 0


def test_sample_stage_sends_the_system_sentence_to_the_openai_backend(project, tmp_path, no_proxy):
    """prompt.system is part of every prompt, on the openai backend too: the first message of each request."""
    repo = _copy(project, tmp_path / "repo")
    with FakeOpenAI(default=_ok) as srv:
        _params(repo, srv.url, more={"prompt": {"system": "Answer briefly."}})
        proc = _stage(repo, "sample.py")
        bodies = srv.bodies()
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(bodies) == N_QUESTIONS
    assert all(b["messages"][0] == {"role": "system", "content": "Answer briefly."} for b in bodies), bodies[0]
    assert all(b["messages"][-1]["role"] == "user" for b in bodies)


def test_unanswerable_generate_stage_fault_writes_nothing(project, tmp_path, no_proxy):
    repo = _copy(project, tmp_path / "repo")
    with FakeOpenAI(default=lambda req: Reply(503)) as srv:
        _params(repo, srv.url)
        proc = _stage(repo, "unanswerable_generate.py")
        n = srv.n_requests
    assert proc.returncode == 3, proc.stderr[-2000:]
    line = _error_line(proc.stderr)
    assert line.startswith("error: HTTP 503 from http://127.0.0.1") and "(model fake-gpt) after 2 attempts" in line
    assert n >= 2  # retried
    assert not (repo / "data" / "unanswerable").exists() or not any((repo / "data" / "unanswerable").iterdir())
    assert not _leftovers(repo)

"""Reliability of the whole pipeline (end to end, on copies of the reproduced smoke project):

- determinism: a second `dvc repro` from clean gives the same dvc.lock hash for every data and model output;
  the only outputs that differ are wall-clock timings (see TIMING), whose other metrics agree exactly;
- resume: a training stage killed with SIGKILL after a checkpoint resumes and ends bitwise equal to the
  uninterrupted run (sampling: tests/test_faults.py and test_sampling.py);
- secrets: with OPENAI_API_KEY set to a sentinel, the stages with `openai` backends, run by dvc against a
  local server, leave the sentinel in no file of the repository;
- sharing: push to a local-directory DVC remote, clone, pull: `dvc status` clean, metrics equal;
- `dvc plots show` renders every declared plot.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml

from fake_openai import FakeOpenAI, Reply, completion
from helpers import dvc_cmd, run, script_argv

pytestmark = pytest.mark.e2e

# Outputs that hold wall-clock timings (seconds, throughput) next to deterministic numbers; everything
# else in dvc.lock must hash identically across clean runs.
TIMING_KEY = re.compile(r"(seconds|runtime|per_second|per_s)$")
TIMING_FILE = re.compile(r"(runtime|samples_per_second|steps_per_second)\.tsv$")


def _lock_outs(repo: Path) -> dict[tuple[str, str], str]:
    stages = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    return {(name, o["path"]): o["md5"] for name, st in stages.items() for o in st.get("outs", [])}


def _without_timings(obj):
    if isinstance(obj, dict):
        return {k: _without_timings(v) for k, v in obj.items() if not TIMING_KEY.search(k) and k != "output_dir"}
    if isinstance(obj, list):
        return [_without_timings(v) for v in obj]
    return obj


def _comparable(path: Path) -> dict[str, object]:
    """The content of an output with its wall-clock timings dropped (file name -> content)."""
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    out = {}
    for f in files:
        rel = str(f.relative_to(path.parent))
        if TIMING_FILE.search(f.name):
            continue
        if f.suffix in (".json", ".yaml"):
            out[rel] = _without_timings(yaml.safe_load(f.read_text()))
        else:
            out[rel] = f.read_bytes()
    return out


# A second clean run reproduces this chain (every kind of stage: world, pretraining, sampling, judging,
# unanswerable generation and filtering, construction, LoRA SFT, reference log-probs, preference training,
# evaluation), not the whole DAG: the remaining stages repeat these code paths and would double the suite.
CHAIN = ["evaluate_preference@ca_dpo-0"]


def test_two_clean_repros_give_identical_hashes(smoke_repo, smoke_repo_again):
    repo, _ = smoke_repo
    other, proc = (
        smoke_repo_again  # its own fresh repository: `dvc repro evaluate_preference@ca_dpo-0` (see conftest.py)
    )
    assert proc.args == ["dvc", "repro", *CHAIN]
    out = proc.stdout
    ran = set(re.findall(r"Running stage '([^']+)'", out))
    assert {"world", "base_model", "sample", "construct@0", "train_sft@idk_it-0", "train_preference@ca_dpo-0"} <= ran, (
        ran
    )
    # (the whole run's dvc.lock also holds the stages outside the chain: compare the chain's)
    a = {k: v for k, v in _lock_outs(repo).items() if k[0] in ran}
    b = {k: v for k, v in _lock_outs(other).items() if k[0] in ran}
    assert a.keys() == b.keys()
    differ = sorted(k for k in a if a[k] != b[k])
    for stage, path in differ:  # only outputs with timings may differ, and only in their timings
        assert path.startswith(("metrics/", "dvclive/")), (stage, path)
        assert _comparable(repo / path) == _comparable(other / path), (stage, path)
    data = [k for k in a if k[1].startswith(("data/", "models/"))]
    assert data and not set(data) & set(differ)


def test_killed_training_stage_resumes_to_the_same_model(smoke_repo, tmp_path):
    """`train_sft@sft-0` (8 steps) with a checkpoint every 2 steps, SIGKILLed once checkpoint-4 is on disk,
    then run again: the adapter and the merged model are bitwise those of an uninterrupted run (which saved
    no checkpoint) with the same thread count, and so are its loss curve and final loss.  (The thread count
    itself changes the floating-point result: one thread and two give different bits, so the reference is
    trained here with this test's one thread, not taken from the smoke run.)"""
    repo, _ = smoke_repo
    copy, reference = tmp_path / "copy", tmp_path / "reference"
    shutil.copytree(repo, copy, symlinks=True)
    shutil.copytree(repo, reference, symlinks=True)
    params = yaml.safe_load((copy / "params.yaml").read_text())
    params["train"]["save_steps"] = 2
    (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    argv = script_argv(dvc_cmd(copy, "train_sft@sft-0"))
    assert argv[:2] == ["python", "stages/train_sft.py"], argv
    cmd = [sys.executable, *argv[1:]]
    proc = subprocess.Popen(cmd, cwd=copy, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    marker = copy / "models/.ckpt/sft/s0/checkpoint-4/trainer_state.json"  # written last in a checkpoint
    deadline = time.monotonic() + 300
    try:
        while not marker.exists():
            assert proc.poll() is None, "training ended before checkpoint-4 was written"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    model, adapter = "models/sft/s0/model.safetensors", "models/sft/s0/adapter/adapter_model.safetensors"
    for f in (model, adapter):  # the killed run left the previous model in place
        assert (copy / f).read_bytes() == (repo / f).read_bytes()
    done = subprocess.run(cmd, cwd=copy, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    uninterrupted = subprocess.run(cmd, cwd=reference, env=env, capture_output=True, text=True, timeout=600)
    assert uninterrupted.returncode == 0, uninterrupted.stderr[-2000:]
    metrics = json.loads((copy / "metrics/train/sft-s0.json").read_text())
    ref = json.loads((reference / "metrics/train/sft-s0.json").read_text())
    assert metrics["resumed_from_step"] >= 4 and ref["resumed_from_step"] == 0 and metrics["steps"] == ref["steps"] == 8
    for f in (model, adapter):
        digest = hashlib.sha256((copy / f).read_bytes()).digest()
        assert digest == hashlib.sha256((reference / f).read_bytes()).digest(), f
    assert metrics["final_loss"] == ref["final_loss"]
    loss = "dvclive/sft/s0/plots/metrics/loss.tsv"
    assert (copy / loss).read_text() == (reference / loss).read_text()  # no step logged twice, none missing
    assert not (copy / "models/.ckpt/sft/s0").exists()


# ------------------------------------------------------------------------------------------------ secrets

SENTINEL = "sk-inbol-" + uuid.uuid4().hex  # made at run time: the literal is in no file of the project


def _texts(body: dict) -> str:
    parts = []
    for m in body.get("messages", []):
        c = m.get("content")
        parts += [c] if isinstance(c, str) else [p.get("text", "") for p in c if isinstance(p, dict)]
    return "\n".join(parts)


def _fake_llm(req) -> Reply:
    body = req["body"] or {}
    text, n = _texts(body), int(body.get("n") or 1)
    if "unanswerable questions" in text:  # the generator: a JSON list of questions
        answer = json.dumps(
            [
                {
                    "question": "What is written on the back of the red circle?",
                    "explanation": "This question can not be answered based on the image because "
                    "the back is not visible.",
                }
            ]
        )
    elif "yes or no" in text.lower():  # the filter's criteria and the semantic judge
        answer = "yes"
    else:  # the sampled answers of the original model
        answer = "red"
    return Reply(200, completion([answer] * n, model=body.get("model", "fake")))


def _files_with(root: Path, needle: bytes) -> list[str]:
    hits = []
    for p in root.rglob("*"):
        if p.is_file() and not p.is_symlink():
            try:
                if needle in p.read_bytes():
                    hits.append(str(p.relative_to(root)))
            except OSError:
                pass
    return hits


def test_api_key_is_never_written(smoke_repo, tmp_path, monkeypatch):
    repo, _ = smoke_repo
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("OPENAI_API_KEY", SENTINEL)
    with FakeOpenAI(default=_fake_llm) as srv:
        params = yaml.safe_load((copy / "params.yaml").read_text())
        params["sampling"]["backend"] = "openai"
        params["sampling"]["openai"].update(base_url=srv.url, cache_dir="data/llm_cache")
        params["judge"]["backend"] = "openai"
        params["judge"]["endpoint"].update(base_url=srv.url, cache_dir="data/llm_cache")
        params["llm"].update(base_url=srv.url, cache_dir="data/llm_cache")
        params["unanswerable"]["generate"]["backend"] = "openai"
        params["unanswerable"]["filter"]["backend"] = "openai"
        (copy / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
        stages = ["sample", "judge", "unanswerable_generate", "unanswerable_filter"]
        proc = run(["dvc", "repro", "-s", *stages], copy)
        models = {b["model"] for b in srv.bodies()}
        auth = {r["headers"].get("authorization") for r in srv.requests}
    assert auth == {f"Bearer {SENTINEL}"}  # the key was used ...
    assert {"llava-hf/llava-1.5-7b-hf", "gpt-4o-mini", "gpt-4o"} <= models  # by every openai backend
    assert len(list((copy / "data/llm_cache").rglob("*.json"))) > 0
    status = run(["dvc", "status", *stages], copy).stdout
    assert "up to date" in status, status
    assert all(f"Running stage '{s}'" in proc.stdout for s in stages), proc.stdout[-2000:]
    needle = SENTINEL.encode()
    canary = tmp_path / "canary"  # the scan finds the key where it is written
    (canary / "sub").mkdir(parents=True)
    (canary / "sub" / "x.bin").write_bytes(b"\x00key=" + needle + b"\x00")
    assert _files_with(canary, needle) == ["sub/x.bin"]
    assert needle not in (proc.stdout + proc.stderr).encode()
    assert _files_with(copy, needle) == []  # ... and written nowhere (.dvc/cache, .git too)


# ------------------------------------------------------------------------------------------------ sharing


def test_push_to_a_local_remote_and_pull_into_a_clone(smoke_repo, tmp_path):
    repo, _ = smoke_repo
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy, symlinks=True)
    remote = tmp_path / "remote"
    run(["dvc", "remote", "add", "-d", "storage", str(remote)], copy)
    run(["git", "add", "-A"], copy)  # dvc.lock, .dvc/config and the git-tracked metrics/plots
    run(["git", "commit", "-q", "-m", "results"], copy)
    run(["dvc", "push"], copy)
    assert any(remote.rglob("*"))
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(copy), str(clone)], tmp_path)
    assert not (clone / "models" / "base").exists() and not (clone / ".dvc" / "cache").exists()
    run(["dvc", "pull"], clone)
    assert "up to date" in run(["dvc", "status"], clone).stdout
    shows = [json.loads(run(["dvc", "metrics", "show", "--json"], r).stdout) for r in (copy, clone)]
    assert shows[0] == shows[1]
    assert _lock_outs(copy) == _lock_outs(clone)
    for f in ("models/base/model.safetensors", "data/world/pool.jsonl", "data/constructed/s0/idk_it.jsonl"):
        assert (clone / f).read_bytes() == (repo / f).read_bytes()


def test_plots_show_renders_every_declared_plot(smoke_repo, tmp_path):
    repo, _ = smoke_repo
    proc = run(["dvc", "plots", "show", "--json", "-o", str(tmp_path / "json")], repo)
    assert "ERROR" not in proc.stderr and "WARNING" not in proc.stderr, proc.stderr
    plots = json.loads(proc.stdout)
    assert set(plots) == {"data"}, proc.stdout[:500]
    dvc_yaml = yaml.safe_load((repo / "dvc.yaml").read_text())
    declared = [next(iter(p)) if isinstance(p, dict) else p for p in dvc_yaml.get("plots", [])]
    assert declared and set(declared) <= set(plots["data"]), set(declared) - set(plots["data"])
    for name, renders in plots["data"].items():
        assert renders, name
        for r in renders:
            assert not r.get("errors"), (name, r.get("errors"))
            if r["type"] == "vega":
                assert r["content"]["data"]["values"], name
            else:
                assert Path(r["url"]).is_file(), name
    html = tmp_path / "html"
    proc = run(["dvc", "plots", "show", "-o", str(html)], repo)
    assert "ERROR" not in proc.stderr and (html / "index.html").is_file()

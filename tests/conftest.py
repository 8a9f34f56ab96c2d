"""Shared fixtures: the project's params, tiny worlds and models (built once per session), and the smoke
profile reproduced once with the real `dvc repro` (for the end-to-end tests).  Helpers: tests/helpers.py.

The suite runs on pytest-xdist workers (`make test`: ``-n 2``), one torch thread each.  The smoke run is
built once for the whole session, in the background from the start of the session, while the workers run
the other tests (the tests that need it run last); each worker then works on its own copy of it."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported: tiny matrices, one thread per worker

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import torch
from filelock import FileLock

from helpers import BIN, build_tiny_model, make_project, params, world_cfg

pytest_plugins = ["fake_openai"]  # its fixtures (fake_openai, no_proxy) for every test module

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

SMOKE_TIMEOUT_S = 3600  # the smoke `dvc repro` (a few minutes on 2 free cores)


def _uses_smoke(item) -> bool:
    return "smoke_repo" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(items):
    """Tests that run `dvc` or whole stages are marked e2e: `make test-fast` (-m "not e2e") leaves them out.
    The tests on the smoke run go last (stable order otherwise): its build runs meanwhile."""
    for item in items:
        if _uses_smoke(item):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=_uses_smoke)


def _shared_dir(config) -> Path:
    """A folder all workers of this session share (the session's base temporary folder; under xdist its
    parent, which holds each worker's own)."""
    base = config._tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _smoke_paths(config) -> dict[str, Path]:
    root = _shared_dir(config) / "smoke-shared"
    return {
        "root": root,
        "repo": root / "repo",
        "lock": root.parent / "smoke-shared.lock",
        "started": root / "started",
        "pid": root / "pid",
        "rc": root / "rc",
        "stdout": root / "stdout.txt",
        "stderr": root / "stderr.txt",
    }


def _start_smoke_build(config) -> None:
    """Start the smoke `dvc repro` in the background, once per session (the first worker to get here)."""
    p = _smoke_paths(config)
    with FileLock(str(p["lock"])):
        if p["started"].exists():
            return
        p["root"].mkdir(parents=True, exist_ok=True)
        p["started"].write_text(str(os.getpid()))
        try:
            repo = make_project(p["repo"])
        except Exception as e:  # noqa: BLE001 - the tests on the smoke run report it
            p["stderr"].write_text(f"creating the smoke project failed: {e}")
            p["stdout"].write_text("")
            p["rc"].write_text("1")
            return
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}
        # the exit status is written once the run ends, whoever waits for it
        script = 'dvc repro >"$1" 2>"$2"; echo $? >"$3.tmp" && mv "$3.tmp" "$3"'
        proc = subprocess.Popen(
            ["sh", "-c", script, "sh", str(p["stdout"]), str(p["stderr"]), str(p["rc"])],
            cwd=repo,
            env=env,
            start_new_session=True,
        )
        p["pid"].write_text(str(proc.pid))


def pytest_collection_finish(session):
    if session.config.option.collectonly or not any(_uses_smoke(i) for i in session.items):
        return
    _start_smoke_build(session.config)


def pytest_unconfigure(config):
    """The controller (or a run without xdist) ends a smoke run still going (a run stopped early, -x)."""
    if os.environ.get("PYTEST_XDIST_WORKER") or not hasattr(config, "_tmp_path_factory"):
        return
    try:
        p = _smoke_paths(config)
    except Exception:  # noqa: BLE001 - no base temporary folder: nothing was started
        return
    if p["pid"].exists() and not p["rc"].exists():
        try:
            os.killpg(int(p["pid"].read_text()), 15)
        except (ProcessLookupError, ValueError):
            pass


@pytest.fixture(scope="session")
def default_params():
    """params.yaml, validated."""
    return params()


@pytest.fixture(scope="session")
def one_thread():
    """Tiny matrices: one thread is faster, and much faster on a machine whose cores are busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_world(tmp_path_factory):
    """A small synthetic world under <root>/data/world (record image paths relative to <root>):
    {"root", "dir", "cfg"}."""
    from inbol.world import build_world

    root = tmp_path_factory.mktemp("tiny") / "proj"
    cfg = world_cfg(n_emblems=6, emblem_max_exposure=4)
    build_world(cfg, root / "data" / "world", image_prefix="data/world")
    return {"root": root, "dir": root / "data" / "world", "cfg": cfg}


@pytest.fixture(scope="session")
def tiny_model(tiny_world, one_thread):
    """An untrained tiny LLaVA for the tiny world, saved under <root>/models/base: {"dir", "model", "processor"}."""
    model, processor = build_tiny_model(tiny_world["dir"])
    out = tiny_world["root"] / "models" / "base"
    model.save_pretrained(out)
    processor.save_pretrained(out)
    return {"dir": out, "model": model, "processor": processor}


@pytest.fixture(scope="session")
def smoke_repo(request, tmp_path_factory):
    """The smoke profile reproduced once with the real `dvc repro` (shared by the e2e tests): this worker's
    own copy of the session's one run, and that run's CompletedProcess."""
    _start_smoke_build(request.config)  # started at collection; here for a test that asked for it late
    p = _smoke_paths(request.config)
    deadline = time.monotonic() + SMOKE_TIMEOUT_S
    while not p["rc"].exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"dvc repro of the smoke profile: no result after {SMOKE_TIMEOUT_S} s ({p['root']})")
        time.sleep(1)
    rc = int(p["rc"].read_text())
    proc = subprocess.CompletedProcess(["dvc", "repro"], rc, p["stdout"].read_text(), p["stderr"].read_text())
    if rc != 0:
        raise AssertionError(f"dvc repro failed ({rc}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    repo = tmp_path_factory.mktemp("smoke") / "repo"
    shutil.copytree(p["repo"], repo, symlinks=True)
    return repo, proc

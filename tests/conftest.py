"""Shared fixtures: the project's params, tiny worlds and models (built once per session), and the smoke
profile reproduced once with the real `dvc repro` (for the end-to-end tests).  Helpers: tests/helpers.py.

The suite runs on pytest-xdist workers (`make test`: ``-n 2``), one torch thread each.  The smoke run is
built once for the whole session, in the background from the start of the session, while the workers run
the other tests (the tests that need it run last); each worker then works on its own copy of it."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported: tiny matrices, one thread per worker

import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
import torch
from filelock import FileLock

from helpers import BIN, build_tiny_model, make_project, params, world_cfg

pytest_plugins = ["fake_openai"]  # its fixtures (fake_openai, no_proxy) for every test module

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

SMOKE_TIMEOUT_S = 3600  # a background run (a few minutes on 2 free cores)
# Background runs of the smoke profile, each started once per session as soon as a selected test needs it,
# while the workers run the other tests: fixture -> `dvc repro` targets (none: the whole DAG).  The second
# run (a chain with every kind of stage) is the independent clean run the determinism tests compare with.
BACKGROUND_RUNS = {"smoke_repo": (), "smoke_repo_again": ("evaluate_preference@ca_dpo-0",)}
# The whole-DAG run is one chain of stages that the end-to-end tests wait for: it runs at the session's own
# priority, while the workers (the other tests meanwhile) and the shorter second run yield to it (niceness
# added; a worker takes its own back, where the system lets it, once the run it waits for is built).
NICE = {"smoke_repo": 0, "smoke_repo_again": 5}
WORKER_NICE = 5


def _needs(item) -> set[str]:
    return set(BACKGROUND_RUNS) & set(getattr(item, "fixturenames", ()))


# the modules of the longest tests on the smoke run (experiments that re-run part of the DAG, a killed and
# resumed training), which start first once it is built
LONGEST_FIRST = ("test_e2e_sweep.py", "test_reliability.py")


def _order(item) -> tuple[int, int]:
    if not _needs(item):
        return (0, 0)
    return (1, 0 if item.path.name in LONGEST_FIRST else 1)


def pytest_collection_modifyitems(items):
    """Tests that run `dvc` or whole stages are marked e2e: `make test-fast` (-m "not e2e") leaves them out.
    The tests on a background run go last, the longest of them first (stable order otherwise): the runs
    are built meanwhile."""
    for item in items:
        if _needs(item):
            item.add_marker(pytest.mark.e2e)
    items.sort(key=_order)


def _shared_dir(config) -> Path:
    """A folder all workers of this session share (the session's base temporary folder; under xdist its
    parent, which holds each worker's own)."""
    base = config._tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def _run_paths(config, name: str) -> dict[str, Path]:
    root = _shared_dir(config) / f"background-{name}"
    files = ("started", "pid", "rc", "stdout", "stderr")
    return {"root": root, "repo": root / "repo", "lock": root.parent / f"background-{name}.lock"} | {
        f: root / f for f in files
    }


def _start_run(config, name: str) -> None:
    """Start the background run ``name`` (a fresh smoke project, `dvc repro` of its targets), once per session:
    the first worker to get here starts it."""
    p = _run_paths(config, name)
    with FileLock(str(p["lock"])):
        if p["started"].exists():
            return
        p["root"].mkdir(parents=True, exist_ok=True)
        p["started"].write_text(str(os.getpid()))
        try:
            repo = make_project(p["repo"])
        except Exception as e:  # noqa: BLE001 - the tests on the run report it
            p["stdout"].write_text("")
            p["stderr"].write_text(f"creating the smoke project failed: {e}")
            p["rc"].write_text("1")
            return
        env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", "PYTHONUNBUFFERED": "1"}
        # the exit status is written (atomically) once the run ends, whichever worker waits for it
        script = 'dvc repro "$@" >"$DVC_OUT" 2>"$DVC_ERR"; echo $? >"$DVC_RC.tmp" && mv "$DVC_RC.tmp" "$DVC_RC"'
        env |= {"DVC_OUT": str(p["stdout"]), "DVC_ERR": str(p["stderr"]), "DVC_RC": str(p["rc"])}
        proc = subprocess.Popen(
            ["sh", "-c", script, "sh", *BACKGROUND_RUNS[name]],
            cwd=repo,
            env=env,
            start_new_session=True,
            preexec_fn=(lambda: os.nice(NICE[name])) if NICE[name] else None,
        )
        p["pid"].write_text(str(proc.pid))


def _wait_for_run(request, tmp_path_factory, name: str):
    """This worker's own copy of the background run ``name``, and the run's CompletedProcess."""
    _start_run(request.config, name)  # started at collection; here for a test that asked for it late
    p = _run_paths(request.config, name)
    deadline = time.monotonic() + SMOKE_TIMEOUT_S
    while not p["rc"].exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"dvc repro of the smoke profile: no result after {SMOKE_TIMEOUT_S} s ({p['root']})")
        time.sleep(1)
    if name == "smoke_repo":  # built: this worker's tests run at the session's priority again
        _renice(_PRIORITY)
    rc = int(p["rc"].read_text())
    cmd = ["dvc", "repro", *BACKGROUND_RUNS[name]]
    proc = subprocess.CompletedProcess(cmd, rc, p["stdout"].read_text(), p["stderr"].read_text())
    if rc != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({rc}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    repo = tmp_path_factory.mktemp(name) / "repo"
    shutil.copytree(p["repo"], repo, symlinks=True)
    return repo, proc


_PRIORITY = os.getpriority(os.PRIO_PROCESS, 0)


def _renice(value: int) -> None:
    """This process's niceness set to ``value`` (raising it back needs a privilege: then it stays)."""
    try:
        os.setpriority(os.PRIO_PROCESS, 0, value)
    except OSError:
        pass


def pytest_collection_finish(session):
    if session.config.option.collectonly:
        return
    needed = sorted(set().union(*(_needs(i) for i in session.items)))
    for name in needed:
        _start_run(session.config, name)
    if needed and os.environ.get("PYTEST_XDIST_WORKER"):  # the workers yield to the runs they will wait for
        _renice(_PRIORITY + WORKER_NICE)


def pytest_unconfigure(config):
    """The controller (or a run without xdist) ends a background run still going (a session stopped early)."""
    if os.environ.get("PYTEST_XDIST_WORKER") or not hasattr(config, "_tmp_path_factory"):
        return
    for name in BACKGROUND_RUNS:
        try:
            p = _run_paths(config, name)
        except Exception:  # noqa: BLE001 - no base temporary folder: nothing was started
            return
        if p["pid"].exists() and not p["rc"].exists():
            try:
                os.killpg(int(p["pid"].read_text()), signal.SIGTERM)
            except (ProcessLookupError, ValueError):
                pass


@pytest.fixture(autouse=True)
def no_gpu_layout():
    """The GPU layout of params a test loads (a paper profile's server GPUs) ends with the test: on a GPU machine
    it would stop the later tests' model loading (inbol.params.gpu_layout)."""
    yield
    from inbol import params as P

    P._LAYOUT.clear()


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
    return _wait_for_run(request, tmp_path_factory, "smoke_repo")


@pytest.fixture(scope="session")
def smoke_repo_again(request, tmp_path_factory):
    """A second clean `dvc repro` of the smoke profile in another fresh repository, up to
    ``evaluate_preference@ca_dpo-0`` (every kind of stage), for the determinism tests: a copy, and its CompletedProcess."""
    return _wait_for_run(request, tmp_path_factory, "smoke_repo_again")

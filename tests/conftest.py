"""Shared fixtures: the project's params, tiny worlds and models (built once per session), and the smoke
profile reproduced once with the real `dvc repro` (for the end-to-end tests).  Helpers: tests/helpers.py."""

import pytest
import torch

from helpers import build_tiny_model, make_project, params, run, world_cfg

pytest_plugins = ["fake_openai"]  # its fixtures (fake_openai, no_proxy) for every test module


def pytest_collection_modifyitems(items):
    """Tests that run `dvc` or whole stages are marked e2e: `make test-fast` (-m "not e2e") leaves them out."""
    for item in items:
        if "smoke_repo" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.e2e)


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
def smoke_repo(tmp_path_factory):
    """The smoke profile reproduced once with the real `dvc repro` (shared by the e2e tests)."""
    repo = make_project(tmp_path_factory.mktemp("smoke") / "repo")
    proc = run(["dvc", "repro"], repo)
    return repo, proc

"""Issue 11: a bad parameter fails its stage before any work, with exit code 2 and one line naming the key,
the value and what is allowed, and leaves every earlier output as it was (bytes and mtimes).

Each case runs a stage script (`python stages/<x>.py`, as dvc runs it) in one copy of the reproduced smoke
project with a single value of params.yaml changed, then puts params.yaml back.  `report` reads no params.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.e2e

OUTPUT_ROOTS = ("data", "models", "metrics", "plots", "dvclive", "dvc.lock")

# (stage script and arguments, dotted params key, bad value, the expected error line after "error: ")
CASES = [
    (["world.py"], "world.image_size", 8, "world.image_size = 8: must be in [16, 512]"),
    (["world.py"], "world.families", ["perception", "colour"],
     "world.families = ['perception', 'colour']: unknown 'colour'; allowed: perception, emblem, choice"),
    (["world.py"], "world.sizes.pool", -3, "world.sizes.pool = -3: must be an integer >= 1"),
    (["base_model.py"], "base_model.arch.vision.patch_size", 7,
     "base_model.arch.vision.patch_size = 7: must divide the world's image size (48)"),
    (["sample.py"], "sampling.k", 0, "sampling.k = 0: must be an integer >= 1"),
    (["sample.py"], "sampling.backend", "vllm", "sampling.backend = 'vllm': must be one of hf, openai"),
    (["sample.py"], "sampling.max_bad_fraction", 1.5, "sampling.max_bad_fraction = 1.5: must be in [0, 1]"),
    (["judge.py"], "judge.backend", "gpt4", "judge.backend = 'gpt4': must be one of none, openai"),
    (["judge.py"], "judge.base_url", "localhost:8000",
     "judge.base_url = 'localhost:8000': must be null or an http(s):// URL"),
    (["restructure.py"], "restructure.seed", -1, "restructure.seed = -1: must be an integer >= 0"),
    (["confidence_report.py"], "delta_k", 1.5, "delta_k = 1.5: must be in [0, 1]"),
    (["construct.py"], "delta_uk", 0.9, "delta_uk = 0.9: must be < delta_k (0.75)"),
    (["construct.py"], "idk_it.known_ratio", 1.0, "idk_it.known_ratio = 1.0: must be in (0, 1)"),
    (["construct.py"], "preference.ratio", [1, 1],
     "preference.ratio = [1.0, 1.0]: must be 3 positive numbers Unknown:Mixed:Known, e.g. [1, 1, 2]"),
    (["unanswerable_generate.py"], "unanswerable.generate.per_image", 0,
     "unanswerable.generate.per_image = 0: must be an integer >= 1"),
    (["unanswerable_generate.py"], "llm.concurrency", 0, "llm.concurrency = 0: must be in [1, 1024]"),
    (["unanswerable_filter.py"], "unanswerable.filter.backend", "gpt",
     "unanswerable.filter.backend = 'gpt': must be one of oracle, openai"),
    (["unanswerable_sets.py"], "unanswerable.sets.vizwiz_modes", ["fog"],
     "unanswerable.sets.vizwiz_modes = ['fog']: unknown 'fog'; allowed: blank, blur, dark, occluder"),
    (["train_sft.py", "idk_it"], "lora.r", 0, "lora.r = 0: must be an integer >= 1"),
    (["train_ca_dpo.py"], "train.grad_accum", 3, "train.grad_accum = 3: must divide train.batch_size (8)"),
    (["train_dpo.py", "2"], "dpo.beta", 0, "dpo.beta = 0.0: must be in (0, inf]"),
    (["train_sft.py", "idk_it"], "lora.target_modules", ["qkv"],
     "lora.target_modules = ['qkv']: 'qkv' matches no linear layer of the language model"),
    (["testsets.py"], "testsets.target_acc", 1.5, "testsets.target_acc = 1.5: must be in [0, 1]"),
    (["evaluate.py", "base"], "evaluate.batch_size", 0, "evaluate.batch_size = 0: must be an integer >= 1"),
    (["evaluate.py", "idk_it"], "judge.lenient", "yes", "judge.lenient = 'yes': must be true or false"),
    (["evaluate.py", "refusal_prompt"], "evaluate.max_new_tokens", 0,
     "evaluate.max_new_tokens = 0: must be an integer in [1, 4096]"),
]
# Stages that import torch/transformers at start-up take 5-10 s each here, so they have fewer cases
# (base_model: 1, unanswerable_filter: 1, training: 4); the light stages have 1-3 each.
# lora.target_modules can only be checked against the loaded model: the model loader's progress bar comes
# first on stderr, the error line is still the last one
AFTER_MODEL_LOAD = {"lora.target_modules"}


def _snapshot(repo: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for name in OUTPUT_ROOTS:
        root = repo / name
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*"))
        for p in paths:
            st = p.lstat()
            out[str(p.relative_to(repo))] = (st.st_size, st.st_mtime_ns) if p.is_file() else (-1, 0)
    return out


@pytest.fixture(scope="module")
def bad_repo(smoke_repo, tmp_path_factory):
    repo, _ = smoke_repo
    copy = tmp_path_factory.mktemp("badparams") / "repo"
    shutil.copytree(repo, copy, symlinks=True)
    before = _snapshot(copy)
    assert any(k.startswith("models/") for k in before) and any(k.startswith("dvclive/") for k in before)
    return copy, before


def _set(params: dict, dotted: str, value) -> None:
    node = params
    *parents, leaf = dotted.split(".")
    for k in parents:
        node = node[k]
    assert leaf in node, f"{dotted} is not in the smoke params"
    node[leaf] = value


@pytest.mark.parametrize("argv, key, value, expected", CASES, ids=[f"{c[0][0][:-3]}-{c[1]}" for c in CASES])
def test_bad_param_fails_before_work_in_one_line(bad_repo, argv, key, value, expected):
    repo, before = bad_repo
    params_path = repo / "params.yaml"
    original = params_path.read_text()
    params = yaml.safe_load(original)
    _set(params, key, value)
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
        proc = subprocess.run([sys.executable, f"stages/{argv[0]}", *argv[1:]], cwd=repo, capture_output=True,
                              text=True, env=env, timeout=300)
    finally:
        params_path.write_text(original)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
    if key not in AFTER_MODEL_LOAD:
        assert len(lines) == 1, proc.stderr[-2000:]
    assert lines[-1].startswith(f"error: {expected}"), lines[-1]
    assert [ln for ln in lines if ln.startswith("error:")] == [lines[-1]]
    assert _snapshot(repo) == before          # nothing written, removed or touched (no temporary left either)

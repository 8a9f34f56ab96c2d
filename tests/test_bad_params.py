"""A bad parameter fails its stage before any work, with exit code 2 and one line naming the key, the value
and what is allowed, and leaves every earlier output as it was (bytes and mtimes).

Each case runs a stage script (its command from dvc.yaml, as dvc runs it, but in this process: torch and
transformers are imported once, not once per case) in one copy of the reproduced smoke project with a single
value of params.yaml changed, then puts params.yaml back.  Every stage validates the
whole file, so the misspelt-key cases (one per section) run through the light `check_params` stage.
"""

from __future__ import annotations

import io
import os
import runpy
import shutil
import sys
import warnings
from contextlib import redirect_stderr
from pathlib import Path

import pytest
import yaml

from helpers import default_dict, dvc_cmd, script_argv

pytestmark = pytest.mark.e2e

OUTPUT_ROOTS = ("data", "models", "metrics", "plots", "dvclive", "dvc.lock")

# (stage script and arguments, dotted params key, bad value, the expected error line after "error: ")
CASES = [
    ("world", "world.image_size", 8, "world.image_size = 8: must be an integer in [16, 512]"),
    (
        "world",
        "world.families",
        ["perception", "colour"],
        "world.families[1] = 'colour': must be one of perception, emblem, choice",
    ),
    ("world", "world.sizes.pool", -3, "world.sizes.pool = -3: must be an integer >= 1"),
    (
        "base_model",
        "base_model.arch.vision.patch_size",
        7,
        "base_model.arch.vision.patch_size = 7: must divide the world's image size (48)",
    ),
    ("sample", "sampling.k", 0, "sampling.k = 0: must be an integer >= 1"),
    ("sample", "sampling.backend", "vllm", "sampling.backend = 'vllm': must be one of hf, openai"),
    ("sample", "sampling.max_bad_fraction", 1.5, "sampling.max_bad_fraction = 1.5: must be in [0, 1]"),
    (
        "sample",
        "sampling.splits",
        ["pool", "ood_rotated"],  # a split the evaluation-set registry does not know
        "sampling.splits[1] = 'ood_rotated': is not a question split of the world; allowed: pool, test, ",
    ),
    ("judge", "judge.backend", "gpt4", "judge.backend = 'gpt4': must be one of none, openai"),
    (
        "judge",
        "judge.endpoint.base_url",
        "localhost:8000",
        "judge.endpoint.base_url = 'localhost:8000': must be null or an http(s):// URL",
    ),
    ("restructure", "restructure.seed", -1, "restructure.seed = -1: must be an integer >= 0"),
    ("confidence_report", "delta_k", 1.5, "delta_k = 1.5: must be in [0, 1]"),
    ("construct@0", "delta_uk", 0.9, "delta_uk = 0.9: must be < delta_k (0.75)"),
    ("construct@0", "idk_it.known_ratio", 1.0, "idk_it.known_ratio = 1.0: must be in (0, 1)"),
    (
        "construct@0",
        "preference.ratio",
        [1, 1],
        "preference.ratio = [1, 1]: must be 3 positive numbers Unknown:Mixed:Known, e.g. [1, 1, 2]",
    ),
    (
        "unanswerable_generate",
        "unanswerable.generate.per_image",
        0,
        "unanswerable.generate.per_image = 0: must be an integer >= 1",
    ),
    ("unanswerable_generate", "llm.concurrency", 0, "llm.concurrency = 0: must be an integer in [1, 1024]"),
    (
        "unanswerable_filter",
        "unanswerable.filter.backend",
        "gpt",
        "unanswerable.filter.backend = 'gpt': must be one of oracle, openai",
    ),
    (
        "unanswerable_sets",
        "unanswerable.sets.vizwiz_modes",
        ["fog"],
        "unanswerable.sets.vizwiz_modes[0] = 'fog': must be one of blank, blur, dark, occluder",
    ),
    ("train_sft@idk_it-0", "lora.r", 0, "lora.r = 0: must be an integer >= 1"),
    ("train_preference@ca_dpo-0", "train.grad_accum", 3, "train.grad_accum = 3: must divide train.batch_size (8)"),
    ("train_preference@dpo_2-0", "dpo.beta", 0, "dpo.beta = 0: must be > 0"),
    (
        "train_rl@grpo-0",
        "grpo.batch_size",
        30,
        "grpo.batch_size = 30: must be a multiple of grpo.num_generations = 4 (whole groups per step)",
    ),
    (
        "train_sft@idk_it-0",
        "lora.target_modules",
        ["qkv"],
        "lora.target_modules = ['qkv']: 'qkv' matches no linear layer of the language model",
    ),
    ("train_sft@sft-0", "train.lr", "0.1", "train.lr = '0.1': must be a number"),
    ("testsets", "testsets.target_acc", 1.5, "testsets.target_acc = 1.5: must be in [0, 1]"),
    ("evaluate_baseline@base", "evaluate.batch_size", 0, "evaluate.batch_size = 0: must be an integer >= 1"),
    ("evaluate_sft@idk_it-0", "judge.lenient", "yes", "judge.lenient = 'yes': must be true or false"),
    (
        "evaluate_baseline@refusal_prompt",
        "evaluate.max_new_tokens",
        0,
        "evaluate.max_new_tokens = 0: must be an integer in [1, 4096]",
    ),
    ("probe@0", "probe.hidden_sizes", [8], "probe.hidden_sizes = [8]: must be two integers >= 1"),
    (
        "check_params",
        "bogus_section",
        {"a": 1},
        "bogus_section = {'a': 1}: unknown key; allowed: awareness, base_model, ",
    ),
    ("check_params", "seeds", [0, 0], "seeds = [0, 0]: must not repeat a value"),
]
# a misspelt key in every section (and sub-section) of params.yaml, through the light check_params stage
SECTIONS = sorted(
    f"{k}.{sub}" if sub else k
    for k, v in default_dict().items()
    if isinstance(v, dict)
    for sub in [None] + [s for s, w in v.items() if isinstance(w, dict)]
)
CASES += [("check_params", f"{sec}.bogus_key", 1, f"{sec}.bogus_key = 1: unknown key; allowed: ") for sec in SECTIONS]
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
    commands = {
        stage: script_argv(dvc_cmd(copy, stage)) for stage in {c[0] for c in CASES}
    }  # before any output is touched
    before = _snapshot(copy)
    assert any(k.startswith("models/") for k in before) and any(k.startswith("dvclive/") for k in before)
    return copy, before, commands


def _run_in_process(repo: Path, argv: list[str]) -> tuple[int, str]:
    """``python stages/X.py args...`` run in ``repo`` inside this process: (exit code, stderr)."""
    cwd, old_argv, err = os.getcwd(), sys.argv, io.StringIO()
    os.chdir(repo)
    sys.argv = argv[1:]
    try:
        with redirect_stderr(err), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            runpy.run_path(argv[1], run_name="__main__")
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else 1
    finally:
        os.chdir(cwd)
        sys.argv = old_argv
    return code, err.getvalue()


def _set(params: dict, dotted: str, value) -> None:
    node = params
    *parents, leaf = dotted.split(".")
    for k in parents:
        node = node[k]
    assert leaf in node or leaf.startswith("bogus"), f"{dotted} is not in the smoke params"
    node[leaf] = value


@pytest.mark.parametrize("stage, key, value, expected", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_bad_param_fails_before_work_in_one_line(bad_repo, stage, key, value, expected):
    repo, before, commands = bad_repo
    argv = commands[stage]
    assert argv[0] == "python" and argv[1].startswith("stages/"), argv
    params_path = repo / "params.yaml"
    original = params_path.read_text()
    params = yaml.safe_load(original)
    _set(params, key, value)
    params_path.write_text(yaml.safe_dump(params, sort_keys=False))
    try:
        code, stderr = _run_in_process(repo, argv)  # an unexpected exception (a traceback) fails the test
    finally:
        params_path.write_text(original)
    assert code == 2, stderr[-2000:]
    lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
    if key not in AFTER_MODEL_LOAD:
        assert len(lines) == 1, stderr[-2000:]
    assert lines[-1].startswith(f"error: {expected}"), lines[-1]
    assert [ln for ln in lines if ln.startswith("error:")] == [lines[-1]]
    assert _snapshot(repo) == before  # nothing written, removed or touched (no temporary left either)

"""Shared test helpers: the project's parameters with overrides, tiny worlds and tiny models, stage runs.

Every section schema requires all its keys (params.yaml is the one place a value is set), so tests build
their configs from params.yaml's sections with the changes they need: ``section("train", lr=0.05)``.
"""

from __future__ import annotations

import copy
import functools
import os
import runpy
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from inbol.params import Params, read_yaml, validate

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

# a tiny LLaVA (tens of thousands of parameters): fast to build and to train for a few steps
TINY_ARCH = {
    "vocab_size": 400,
    "vision_feature_layer": -1,
    "vision": {"hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "num_heads": 4, "patch_size": 16},
    "text": {"hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "num_heads": 2, "max_positions": 256},
}
TINY_SIZES = {
    "corpus": 30,
    "pool": 24,
    "test": 18,
    "ood_hard": 2,
    "ood_phrasing": 2,
    "ood_choice": 2,
    "val": 9,
    "val_ood": 2,
}


def merge(base: dict, changes: dict) -> dict:
    """``base`` with ``changes`` merged in (mappings key by key, other values replaced); a new dict."""
    out = copy.deepcopy(base)
    for k, v in changes.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


@functools.lru_cache(maxsize=1)
def default_dict() -> dict:
    return read_yaml(ROOT / "params.yaml")


def params_dict(**changes) -> dict:
    """params.yaml as a plain mapping with ``changes`` merged in (``section={...}`` keyword per section)."""
    return merge(default_dict(), changes)


def params(**changes) -> Params:
    """The validated params of params.yaml with ``changes`` merged in."""
    return validate(Params, params_dict(**changes))


def section(name: str, **changes):
    """One section of params.yaml (dotted for nested ones, e.g. ``unanswerable.generate``) with ``changes``."""
    node: dict = default_dict()
    parts = name.split(".")
    for p in parts:
        node = node[p]
    nested: dict = merge(node, changes)
    for p in reversed(parts):
        nested = {p: nested}
    obj = params(**nested)
    for p in parts:
        obj = getattr(obj, p)
    return obj


def world_cfg(sizes: dict | None = None, **changes):
    """A small synthetic world config: params.yaml's world with ``sizes`` (default TINY_SIZES) and ``changes``."""
    return section("world", sizes={**TINY_SIZES, **(sizes or {})}, **changes)


def tiny_arch(**changes):
    return section("base_model.arch", **merge(TINY_ARCH, changes))


def build_tiny_model(world_dir: str | Path, image_size: int = 48, patch_size: int = 16, seed: int = 0, **arch):
    """(model, processor) of a tiny untrained LLaVA whose tokenizer knows the world's corpus."""
    from inbol.io import read_jsonl
    from inbol.models import build_processor, build_tiny_llava, train_tokenizer
    from inbol.models.base import tokenizer_texts

    corpus = read_jsonl(Path(world_dir) / "corpus.jsonl")
    tok = train_tokenizer(tokenizer_texts(corpus), 400)
    proc = build_processor(tok, image_size, patch_size)
    cfg = tiny_arch(**merge({"vision": {"patch_size": patch_size}}, arch))
    return build_tiny_llava(cfg, tok, image_size, seed=seed).eval(), proc


def write_params(repo: Path, **changes) -> Path:
    """Write params.yaml (the project's, with ``changes``) into ``repo``."""
    path = Path(repo) / "params.yaml"
    path.write_text(yaml.safe_dump(params_dict(**changes), sort_keys=False))
    return path


def project_files() -> list[str]:
    """The files a clone of this repository would have (tracked, plus new files git does not ignore)."""
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\n")
    return [f for f in out if f and (ROOT / f).is_file()]


def run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 900, env: dict | None = None):
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "PYTHONUNBUFFERED": "1",
        **(env or {}),
    }
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def make_project(dest: Path, profile: str | None = "configs/smoke.yaml") -> Path:
    """A fresh git+DVC repository holding this project, with ``profile`` composed into its params.yaml."""
    from inbol.profiles import apply

    for f in project_files():
        target = dest / f
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, target)
    if profile is not None:
        apply(dest / profile, dest / "params.yaml")
        # the embedded default's lock records other stages and sizes (none of it applies to the profile's
        # run) and DVC reads and rewrites the whole file at every stage: a profile's run starts without it
        (dest / "dvc.lock").unlink(missing_ok=True)
    run(["git", "init", "-q"], dest)
    run(["git", "config", "user.email", "test@example.com"], dest)
    run(["git", "config", "user.name", "test"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-q", "-m", "project"], dest)
    return dest


def run_stage_script(repo: Path, script: str, *args: str, timeout: int = 300, env: dict | None = None):
    """``python stages/<script> args...`` in ``repo`` (as dvc runs it); the CompletedProcess."""
    env = {"OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore", **(env or {})}
    return run([sys.executable, f"stages/{script}", *args], repo, check=False, timeout=timeout, env=env)


def script_argv(argv: list[str]) -> list[str]:
    """A stage command as ``python stages/X.py args...``: a training stage's ``accelerate launch [options]``
    prefix (one process at the embedded default) replaced by ``python``."""
    if argv[:2] == ["accelerate", "launch"]:
        i = next(i for i, a in enumerate(argv) if a.startswith("stages/"))
        return ["python", *argv[i:]]
    return argv


def dvc_cmd(repo: Path, stage: str) -> list[str]:
    """The argv of a dvc.yaml stage's command (``stage`` as dvc names it, e.g. ``construct@0``)."""
    import shlex

    out = run(["dvc", "stage", "list", "--name-only"], repo).stdout.split()
    if stage not in out:
        raise AssertionError(f"no stage {stage!r} in {repo / 'dvc.yaml'} (stages: {out})")
    text = run(["dvc", "repro", "--dry", "--force", "--single-item", stage], repo).stdout
    for line in text.splitlines():
        if line.startswith("> "):
            return shlex.split(line[2:])
    raise AssertionError(f"no command for {stage!r} in `dvc repro --dry` output:\n{text}")


__all__ = [
    "ROOT",
    "script_argv",
    "TINY_ARCH",
    "TINY_SIZES",
    "merge",
    "params_dict",
    "params",
    "section",
    "world_cfg",
    "tiny_arch",
    "build_tiny_model",
    "write_params",
    "project_files",
    "run",
    "make_project",
    "run_stage_script",
    "dvc_cmd",
]


# llava-hf/llava-1.5-7b-hf's chat_template.json (also llava-v1.6-vicuna's)
LLAVA_HF_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] != 'system' %}{{ message['role'].upper() + ': '}}{% endif %}"
    "{# Render all images first #}{% for content in message['content'] | selectattr('type', 'equalto', 'image') %}"
    "{{ '<image>\n' }}{% endfor %}{# Render all text next #}{% if message['role'] != 'assistant' %}"
    "{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}{{ content['text'] + ' '}}"
    "{% endfor %}{% else %}{% for content in message['content'] | selectattr('type', 'equalto', 'text') %}"
    "{% generation %}{{ content['text'] + ' '}}{% endgeneration %}{% endfor %}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


def stage_args(stage: str, item=None, **matrix) -> list[str]:
    """The arguments of a dvc.yaml stage's command as dvc runs it (``item``: the foreach value, ``matrix``: the
    matrix values)."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]
    cmd = spec.get("do", spec)["cmd"]
    if item is not None:
        cmd = cmd.replace("${item}", str(item))
    for k, v in matrix.items():
        cmd = cmd.replace(f"${{item.{k}}}", str(v))
    argv = shlex.split(cmd)
    assert argv[0] == "python" and argv[1] == f"stages/{argv[1].split('/')[-1]}" and "${" not in cmd, cmd
    return argv[1:]


def run_stage_in_process(argv: list[str]) -> None:
    """A stage script in this process (faster than a subprocess: torch is imported once)."""
    old = sys.argv
    sys.argv = list(argv)
    try:
        runpy.run_path(str(ROOT / argv[0]), run_name="__main__")
    finally:
        sys.argv = old

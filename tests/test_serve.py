"""Generation through an OpenAI-compatible server (vLLM) at paper scale: every request names the model it
means (the base model, or a trained model's LoRA adapter served under its own name), a stage checks that the
server lists every model it needs before any work, P(refusal start) from the server's log-probs, the GPU
layout that keeps in-process stages off the server's GPUs; against the local fake server."""

from __future__ import annotations

import runpy
import shlex
import sys
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, write_params
from inbol.io import read_jsonl, write_json, write_jsonl

BASE = "llava-test-base"
SEEDS = (0,)


def stage_argv(stage: str, item=None, **matrix) -> list[str]:
    """The arguments of a dvc.yaml stage's command as dvc runs it (``item``: the foreach value, ``matrix``:
    the matrix values)."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]
    cmd = spec.get("do", spec)["cmd"]
    if item is not None:
        cmd = cmd.replace("${item}", str(item))
    for k, v in matrix.items():
        cmd = cmd.replace(f"${{item.{k}}}", str(v))
    argv = shlex.split(cmd)
    assert argv[0] == "python" and "${" not in cmd, cmd
    return argv[1:]


def run_stage(argv: list[str]) -> None:
    """A stage script in this process (torch imported once)."""
    old = sys.argv
    sys.argv = list(argv)
    try:
        runpy.run_path(str(ROOT / argv[0]), run_name="__main__")
    finally:
        sys.argv = old


def served_params(url: str, **changes) -> dict:
    """The openai backend on the fake server at ``url`` (responses cached under data/llm_cache, as the profile
    does), small sizes."""
    openai = {"model": BASE, "base_url": url, "max_retries": 0, "timeout_s": 10.0, "cache_dir": "data/llm_cache"}
    out = {
        "seeds": list(SEEDS),
        "sampling": {"backend": "openai", "k": 3, "batch_size": 4, "max_new_tokens": 4, "openai": openai},
        "selective": {"k": 3},
        "evaluate": {"batch_size": 4, "max_new_tokens": 4, "device": "cpu", "dtype": "float32"},
        "judge": {"backend": "none"},
        "calibration": {"temperatures": [0.5, 1.0]},
    }
    for k, v in changes.items():
        out[k] = {**out.get(k, {}), **v} if isinstance(v, dict) else v
    return out


@pytest.fixture(scope="module")
def project(tiny_world, tiny_model, tmp_path_factory):
    """A project folder: two small test/validation sets from the tiny world, the tiny model as the base and as
    every trained model, greedy predictions of every model."""
    import shutil

    root = tmp_path_factory.mktemp("serve") / "proj"
    shutil.copytree(tiny_world["root"] / "data" / "world", root / "data" / "world")
    shutil.copytree(tiny_model["dir"], root / "models" / "base")
    for m in ("idk_it", "ca_dpo"):
        for s in SEEDS:
            shutil.copytree(tiny_model["dir"], root / "models" / m / f"s{s}")
    test = read_jsonl(root / "data/world/test.jsonl")
    val = read_jsonl(root / "data/world/val.jsonl")
    for folder, recs in (("testsets", test), ("valsets", val)):
        sets = {"perception": [dict(r, conf_base=0.5) for r in recs[:3]], "ood_hard": recs[3:5]}
        write_json(
            root / "data" / folder / "manifest.json",
            {
                "sets": {
                    "perception": {"group": "in_domain", "answerable": True, "paper": "VQAv2"},
                    "ood_hard": {"group": "ood", "answerable": True, "paper": "GQA"},
                }
            },
        )
        for name, rs in sets.items():
            write_jsonl(root / "data" / folder / f"{name}.jsonl", rs)
        preds = [{"set": n, "id": r["id"], "response": "red"} for n, rs in sets.items() for r in rs]
        pred_dir = "predictions" if folder == "testsets" else "predictions_val"
        for name in ("base", "idk_it-s0", "ca_dpo-s0"):
            write_jsonl(root / "data" / pred_dir / f"{name}.jsonl", preds)
    return root


def n_questions(project: Path) -> int:
    return sum(
        len(read_jsonl(p)) for folder in ("testsets", "valsets") for p in (project / "data" / folder).glob("*.jsonl")
    )


@pytest.mark.usefixtures("one_thread")
def test_consistency_of_a_trained_model_asks_the_server_for_that_model(project, fake_openai, monkeypatch, tmp_path):
    """Each consistency run names its own model in every request: the base model for consistency_base, the
    trained model's adapter (``idk_it-s0``) for consistency@idk_it-0, so the disk cache never answers one model's
    requests with another's samples (it used to: every request named the base model, and Table 5's
    self-consistency rows of the trained models were the original model's)."""
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(project, repo)
    monkeypatch.chdir(repo)
    fake_openai.models = [BASE, "idk_it-s0", "ca_dpo-s0"]
    write_params(repo, **served_params(fake_openai.url))
    run_stage(stage_argv("consistency_base"))
    n = n_questions(repo)
    base_models = [b["model"] for b in fake_openai.bodies() if b]
    assert base_models == [BASE] * n
    fake_openai.requests.clear()
    run_stage(stage_argv("consistency", model="idk_it", seed=0))
    bodies = [b for b in fake_openai.bodies() if b]
    assert [b["model"] for b in bodies] == ["idk_it-s0"] * n  # not the base model, not answered from its cache
    rows = read_jsonl(repo / "data/consistency/idk_it-s0.jsonl")
    assert len(rows) == n and {r["split"] for r in rows} == {"test", "val"}

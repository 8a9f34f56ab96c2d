"""The switch to paper scale, proven at toy size: the real-dataset loaders' fixtures as the world
(`world.source: datasets`), a tiny LLaVA saved to a local folder as the base model (`base_model.source:
<folder>`, the code path a hub id such as llava-hf/llava-1.5-7b-hf takes), and the OpenAI-compatible
backends of the unanswerable generator, filter and judge (a local fake server) - then the stage scripts
from the world to the evaluation, as dvc runs them."""

from __future__ import annotations

import copy
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

import dataset_fixtures as F
from fake_openai import PROXY_VARS, FakeOpenAI
from helpers import ROOT, tiny_arch
from inbol.params import load_params
from inbol.profiles import compose

# (dvc.yaml stage, its foreach item or matrix values): the DAG from the world to the evaluation, seed 0
STAGES = [
    ("check_params", None),
    ("world", None),
    ("base_model", None),
    ("sample", None),
    ("judge", None),
    ("restructure", None),
    ("unanswerable_generate", None),
    ("unanswerable_filter", None),
    ("unanswerable_sets", None),
    ("construct", 0),
    ("train_idk_it", 0),
    ("testsets", None),
    ("evaluate_baseline", "base"),
    ("evaluate", {"model": "idk_it", "seed": 0}),
]


def stage_argv(stage: str, item=None) -> list[str]:
    """The command of a dvc.yaml stage as dvc runs it (``item``: its foreach value or matrix values)."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]
    cmd = spec.get("do", spec)["cmd"]
    for k, v in item.items() if isinstance(item, dict) else [("", item)] if item is not None else []:
        cmd = cmd.replace(f"${{item.{k}}}" if k else "${item}", str(v))
    argv = shlex.split(cmd)
    assert argv[0] == "python" and "${" not in cmd, cmd
    return [sys.executable, str(ROOT / argv[1]), *argv[2:]]


def save_tiny_model(folder: Path, texts: list[str]) -> None:
    """A tiny LLaVA (random weights, a tokenizer trained on the fixtures' text) saved like a hub checkpoint."""
    import torch

    from inbol.models import build_processor, build_tiny_llava, train_tokenizer
    from inbol.models.base import tokenizer_texts

    torch.set_num_threads(1)
    tok = train_tokenizer(tokenizer_texts([{"question": t, "answers": []} for t in texts]), 400)
    model = build_tiny_llava(tiny_arch(vision={"num_heads": 2}), tok, 48, seed=0)
    model.save_pretrained(folder)
    build_processor(tok, 48, 16).save_pretrained(folder)


def fake_answer(body: dict, i: int) -> str:
    text = json.dumps(body["messages"])
    if "Please generate" in text:  # the unanswerable generator: a JSON list of questions
        return json.dumps(
            [
                {
                    "question": f"What is the name of the person behind the wall {i}?",
                    "explanation": "This question can not be answered based on the image because no person is shown.",
                }
            ]
        )
    if "yes or no" in text:  # the filter's criteria and the semantic judge
        return "yes" if "Question:" in text else "no"
    return "no"


def params(smoke: dict, datasets: dict, model: Path, url: str) -> dict:
    """The smoke profile on the dataset fixtures, the local model and the fake OpenAI-compatible server."""
    p = copy.deepcopy(smoke)
    p["world"].update(source="datasets", datasets=datasets)
    p["base_model"].update(source=str(model), device="cpu", dtype="float32")
    p["base_model"]["eval"] = {"n_per_family": 2, "batch_size": 16, "max_new_tokens": 4}
    p["sampling"].update(k=3, max_new_tokens=4, device="cpu", dtype="float32", max_bad_fraction=0.0)
    p["judge"].update(backend="openai")
    p["judge"]["endpoint"].update(base_url=url, max_retries=0)
    p["llm"].update(base_url=url, max_retries=0)
    p["unanswerable"]["generate"].update(n_images=0, per_image=1, mix={"swap": 0.0, "generate": 1.0}, backend="openai")
    p["unanswerable"]["filter"].update(backend="openai", strict=False, drop_base_refused=False, max_new_tokens=4)
    for s in ("idk_it", "preference", "sft"):
        p[s]["size"] = 12
    p["train"].update(max_steps=2, batch_size=4, save_steps=10, logging_steps=1)
    p["testsets"].update(n_per_family=3, n_unanswerable=2)
    p["evaluate"].update(batch_size=16, max_new_tokens=4, device="cpu", dtype="float32", vqa_accuracy=True)
    return p


@pytest.mark.e2e
def test_pipeline_runs_on_real_dataset_fixtures_with_a_local_base_model(tmp_path):
    datasets = F.write_all(tmp_path / "raw", n_pool=6, n_test=6)
    model = tmp_path / "llava-local"
    save_tiny_model(
        model,
        [
            "What color is the square in the middle?",
            "What is the name of this landmark?",
            "Which color is the square? A. red B. green C. blue",
            "Eiffel Tower Big Ben",
        ],
    )
    smoke = compose(ROOT / "configs" / "smoke.yaml")
    env = {
        **{k: v for k, v in os.environ.items() if k not in PROXY_VARS},
        "PYTHONWARNINGS": "ignore",
        "OMP_NUM_THREADS": "1",
        "OPENAI_API_KEY": "test-key",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    times = {}
    with FakeOpenAI(answer=fake_answer) as srv:
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(params(smoke, datasets, model, srv.url), sort_keys=False))
        assert load_params(tmp_path / "params.yaml").world.source == "datasets"  # complete and valid
        for stage, item in STAGES:
            t0 = time.time()
            proc = subprocess.run(
                stage_argv(stage, item), cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600
            )
            times[stage] = round(time.time() - t0, 1)
            assert proc.returncode == 0, f"{stage}: {proc.stderr[-3000:]}"
    print(times)

    world = json.loads((tmp_path / "metrics" / "world.json").read_text())
    assert world["source"] == "datasets"
    # the base model is the local folder, by pointer (as a hub id would be), not a copy
    assert json.loads((tmp_path / "models" / "base" / "source.json").read_text()) == {"source": str(model)}
    assert not (tmp_path / "models" / "base" / "model.safetensors").exists()
    base = json.loads((tmp_path / "metrics" / "base_model.json").read_text())
    assert base["source"] == str(model) and set(base["heldout"]["accuracy_by_family"]) == {
        "perception",
        "emblem",
        "choice",
    }
    sampled = json.loads((tmp_path / "metrics" / "sampling.json").read_text())
    assert set(sampled["splits"]) == {"pool", "test", "ood_phrasing", "ood_hard", "ood_choice"}
    assert all(s["n_bad"] == 0 for s in sampled["splits"].values())
    kept = [json.loads(x) for x in (tmp_path / "data" / "unanswerable" / "kept.jsonl").read_text().splitlines()]
    assert kept and all(r["kind"] == "unanswerable" for r in kept)
    assert (tmp_path / "models" / "idk_it" / "s0" / "model.safetensors").is_file()
    manifest = json.loads((tmp_path / "data" / "testsets" / "manifest.json").read_text())
    assert {n: s["paper"] for n, s in manifest["sets"].items()} == {
        "perception": "VQAv2",
        "emblem": "OVEN",
        "choice": "ScienceQA",
        "uavqa": "UaVQA",
        "ood_phrasing": "AOKVQA",
        "ood_hard": "GQA",
        "ood_choice": "MMBench/MMMU",
        "beyond": "BeyondVisQA",
        "vizwiz": "VizWiz(ua)",
        "vqav2_idk": "VQAv2-IDK(filter)",
    }
    for name in ("base", "idk_it-s0"):
        m = json.loads((tmp_path / "metrics" / "eval" / f"{name}.json").read_text())
        assert m["model"] == name.split("-s")[0] and m["seed"] == (0 if name == "idk_it-s0" else None)
        assert m["overall"]["sets"] == ["perception", "emblem", "choice", "uavqa"]
        assert m["extra"]["sets"] == ["vizwiz", "vqav2_idk"]
        assert "vqa_acc" in m["sets"]["perception"] and "vqa_acc" in m["sets"]["ood_phrasing"]
        assert "vqa_acc" not in m["sets"]["choice"]
        preds = (tmp_path / "data" / "predictions" / f"{name}.jsonl").read_text().splitlines()
        assert len(preds) == sum(s["n"] for s in manifest["sets"].values())
    assert srv.requests, "the OpenAI-compatible backends were not used"

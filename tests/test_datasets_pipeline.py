"""The paper-scale profile (configs/llava-1.5-7b.yaml), dry-run at toy size: every world.datasets source of the
profile on its release-format fixture (tests/dataset_fixtures.py; only the paths moved, tiny limits), a tiny LLaVA
saved to a local folder as the base model (``base_model.source: <folder>``, the code path a hub id such as
llava-hf/llava-1.5-7b-hf takes), and a local fake OpenAI-compatible server for the profile's LLM backends (the
vLLM sampler, the unanswerable generator and filter, the semantic judge) - then the stage scripts, as dvc runs
them, from the world to the evaluation.

With the profile's settings a CPU can run: activation checkpointing on, every training stage through
``accelerate launch`` with the one-process config (a probe records each stage process and whether accelerate
started it), and the trained models served as LoRA adapters: the fake server lists the base model only, then
(after training) the adapters ``python -m inbol.serve`` names, and the evaluation and consistency stages of a
trained model name its adapter ``idk_it-s0`` in every request; a server that does not list it stops the stage
with one line before any work."""

from __future__ import annotations

import copy
import json
import os
import re
import resource
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
from inbol.evaluation.testsets import build_testsets
from inbol.params import WORLD_SPLITS, load_params
from inbol.profiles import compose

PROFILE = ROOT / "configs" / "llava-1.5-7b.yaml"
CPU_LAUNCHER = ROOT / "configs" / "accelerate" / "single.yaml"  # the profile's multi_gpu.yaml needs GPUs
# (dvc.yaml stage, its foreach item or matrix values): the DAG from the world to the trained model, seed 0 ...
TO_TRAINING = [
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
    ("train_sft", {"method": "idk_it", "seed": 0}),
    ("reference", 0),
    ("train_preference", {"method": "ca_dpo", "seed": 0}),
]
# ... and on to the evaluations (they need the validation split of the world, see below)
TO_EVALUATION = [
    ("testsets", None),
    ("evaluate_baseline", "base"),
    ("evaluate_sft", {"model": "idk_it", "seed": 0}),
    ("evaluate_val_baseline", "base"),
    ("evaluate_val", {"model": "idk_it", "seed": 0}),
    ("miniature", None),
    ("consistency_base", None),
    ("consistency", {"model": "idk_it", "seed": 0}),  # a trained model's self-consistency: its adapter's samples
    ("selective", None),
    ("report", None),
]
# the profile's limits, cut to a few questions per source (a seeded sample where a fixture has more)
LIMITS = {"pool": 5, "test": 5}
TRAINING_SCRIPTS = {"train_sft.py", "reference.py", "train_preference.py"}  # what accelerate launches
# a sitecustomize for the stage processes: at exit, each appends its script and the mixed precision that
# `accelerate launch` hands its processes (unset in a process it did not start) to $INBOL_TEST_LAUNCH_LOG
LAUNCH_PROBE = """import atexit, json, multiprocessing, os, sys
_log = os.environ.get("INBOL_TEST_LAUNCH_LOG")
if _log and multiprocessing.parent_process() is None:  # a stage's process, not a worker of it
    def _record():
        with open(_log, "a") as f:
            script = os.path.basename(sys.argv[0]) if sys.argv else ""
            f.write(json.dumps({"script": script, "accelerate": os.environ.get("ACCELERATE_MIXED_PRECISION")}) + "\\n")
    atexit.register(_record)
"""
SAMPLED_ANSWERS = ["red", "A", "Eiffel Tower", "yes", "green", "I am not sure."]
PAPER_SETS = {  # each test set and the paper's set it stands for
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


def stage_argv(stage: str, item=None, params: dict | None = None) -> list[str]:
    """The command of a dvc.yaml stage as dvc runs it (``item``: its foreach value or matrix values; ``params``:
    the values of any other ``${section.key}`` in it), with this interpreter and the repository's files (the
    stage scripts, launcher configs under configs/) at absolute paths.  A command that starts with ``accelerate launch`` runs the
    launcher of this interpreter's accelerate."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]
    cmd = spec.get("do", spec)["cmd"]
    for k, v in item.items() if isinstance(item, dict) else [("", item)] if item is not None else []:
        cmd = cmd.replace(f"${{item.{k}}}" if k else "${item}", str(v))

    def lookup(m: re.Match) -> str:
        node = params
        for part in m.group(1).split("."):
            node = node[part]
        return str(node)

    # training stages: `accelerate launch` with train.launcher, without params the one-process config (a CPU)
    cmd = (
        re.sub(r"\$\{([\w.]+)\}", lookup, cmd)
        if params is not None
        else cmd.replace("${train.launcher}", str(CPU_LAUNCHER))
    )
    argv = shlex.split(cmd)
    assert "${" not in cmd, cmd
    if argv[:2] == ["accelerate", "launch"]:
        head, argv = [sys.executable, "-m", "accelerate.commands.launch"], argv[2:]
    else:
        assert argv[0] == "python", cmd
        head, argv = [sys.executable], argv[1:]
    code = ("stages/", "configs/")  # the repository's own files; every other path is the project's (cwd)
    return head + [str(ROOT / a) if a.startswith(code) else a for a in argv]


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
    # the vLLM server (the base model, or a trained model's adapter where a stage asks for one): short answers
    return SAMPLED_ANSWERS[(i + len(text)) % len(SAMPLED_ANSWERS)]


def profile_params(root: Path, model: Path, url: str) -> dict:
    """The 7B profile with its sources on the fixtures, the local model, the fake server, tiny sizes, one seed."""
    p = copy.deepcopy(compose(PROFILE))
    datasets = p["world"]["datasets"]
    mmmu = next(e for e in datasets["ood_choice"] if e["loader"] == "mmmu")
    assert len(mmmu["name"]) == 30  # all 30 subject configs, one question each
    local = F.localize(datasets, root / "raw", n=3, n_in_domain=6)
    for split, entries in local.items():
        for e in entries if isinstance(entries, list) else []:
            e["limit"] = LIMITS.get(split, 3)
    local["max_bad_image_fraction"] = 0.0
    p["world"]["datasets"] = local
    p["seeds"] = [0]
    p["base_model"].update(source=str(model), device="cpu", dtype="float32")
    p["base_model"]["eval"] = {"n_per_family": 2, "batch_size": 16, "max_new_tokens": 4}
    p["sampling"].update(k=3, max_new_tokens=4, batch_size=8, device="cpu", dtype="float32", max_bad_fraction=0.0)
    p["sampling"]["openai"].update(base_url=url, max_retries=0)
    p["judge"]["endpoint"].update(base_url=url, max_retries=0)
    p["llm"].update(base_url=url, max_retries=0)
    p["unanswerable"]["generate"].update(n_images=0, per_image=1)
    p["unanswerable"]["filter"].update(drop_base_refused=False, max_new_tokens=4)
    for s in ("idk_it", "preference", "sft"):
        p[s]["size"] = 12
    assert p["train"]["activation_checkpointing"] is True  # the profile's, kept: it runs on a CPU too
    p["train"].update(max_steps=2, batch_size=4, save_steps=10, logging_steps=1, launcher=str(CPU_LAUNCHER))
    p["testsets"].update(n_per_family=3, n_unanswerable=2, val_per_family=3, val_unanswerable=2)
    p["evaluate"].update(batch_size=16, max_new_tokens=4, device="cpu", dtype="float32")
    p["stats"]["n_boot"] = 100  # the intervals' code path at a tenth of the replicates (selective, report)
    return p


def stage_label(stage: str, item=None) -> str:
    """dvc's name of a stage's item: ``evaluate_sft@idk_it-0`` style (values joined by '-')."""
    if item is None:
        return stage
    return f"{stage}@{'-'.join(map(str, item.values())) if isinstance(item, dict) else item}"


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_stages(stages, cwd: Path, env: dict, times: dict, params: dict | None = None, srv=None, spans=None) -> None:
    """Run each stage; ``times[label]``: its (wall, CPU) seconds (printed: where the test's time goes);
    ``spans[label]``: the (first, last + 1) indices of the requests it sent to ``srv``."""
    for stage, item in stages:
        t0, cpu0, first = time.time(), _children_cpu(), srv.n_requests if srv is not None else 0
        proc = subprocess.run(
            stage_argv(stage, item, params), cwd=cwd, capture_output=True, text=True, env=env, timeout=600
        )
        times[stage_label(stage, item)] = (round(time.time() - t0, 1), round(_children_cpu() - cpu0, 1))
        if spans is not None and srv is not None:
            spans[stage_label(stage, item)] = (first, srv.n_requests)
        assert proc.returncode == 0, f"{stage}: {proc.stderr[-3000:]}"


def generations(srv, span: tuple[int, int]) -> list[dict]:
    """The generation requests (a question with its image) among requests ``span`` of ``srv`` (the semantic
    judge's text-only requests left out)."""
    return [b for b in srv.bodies()[span[0] : span[1]] if b and "image_url" in json.dumps(b.get("messages"))]


@pytest.mark.e2e
def test_paper_profile_runs_on_release_format_fixtures_with_a_local_base_model(tmp_path):
    model = tmp_path / "llava-local"
    save_tiny_model(
        model,
        [
            "What color is the square in the middle?",
            "What is the name of this landmark?",
            "Which color is the square? A. red B. green C. blue",
            "Eiffel Tower Big Ben",
            F.REFUSAL_OPTION,
        ],
    )
    probe = tmp_path / "launch_probe"
    probe.mkdir()
    (probe / "sitecustomize.py").write_text(LAUNCH_PROBE)
    launches = tmp_path / "launches.jsonl"
    env = {
        **{k: v for k, v in os.environ.items() if k not in PROXY_VARS and not k.startswith("ACCELERATE_")},
        "PYTHONPATH": os.pathsep.join([str(probe), *filter(None, [os.environ.get("PYTHONPATH")])]),
        "INBOL_TEST_LAUNCH_LOG": str(launches),
        "PYTHONWARNINGS": "ignore",
        "OMP_NUM_THREADS": "1",
        "OPENAI_API_KEY": "test-key",
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    times: dict = {}
    spans: dict = {}
    base = compose(PROFILE)["sampling"]["openai"]["model"]
    with FakeOpenAI(answer=fake_answer, models=[base]) as srv:  # the base model only, until adapters exist
        p = profile_params(tmp_path, model, srv.url)
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))
        assert load_params(tmp_path / "params.yaml").world.source == "datasets"  # complete and valid
        run_stages(TO_TRAINING, tmp_path, env, times, p, srv, spans)
        assert (tmp_path / "data" / "world" / "val.jsonl").is_file()  # the profile's validation sources
        # the trained models' adapters, as the GPU user serves them: the server lists what inbol.serve names
        served = subprocess.run(
            [sys.executable, "-m", "inbol.serve"], cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300
        )
        assert served.returncode == 0, served.stderr[-3000:]
        lora = dict(re.findall(r"(\S+-s\d+)=(\S+)", served.stdout.split("--lora-modules", 1)[-1]))
        assert lora == {"idk_it-s0": "models/idk_it/s0/adapter", "ca_dpo-s0": "models/served/ca_dpo-s0"}, served.stdout
        assert "--enable-lora" in served.stdout and "not trained yet" in served.stderr  # sft, dpo_*: no adapter
        assert all((tmp_path / f / "adapter_config.json").is_file() for f in lora.values())
        srv.models = [base, *lora]
        run_stages(TO_EVALUATION, tmp_path, env, times, p, srv, spans)

        # a server without the adapter: the trained model's stages stop with one line before any work
        srv.models = [base]
        for stage, out in (
            ("evaluate_sft", "data/predictions/idk_it-s0.jsonl"),
            ("consistency", "data/consistency/idk_it-s0.jsonl"),
        ):
            before, n_gets = (tmp_path / out).read_bytes(), len(srv.gets)
            n_requests, mtime = srv.n_requests, (tmp_path / out).stat().st_mtime_ns
            proc = subprocess.run(
                stage_argv(stage, {"model": "idk_it", "seed": 0}, p),
                cwd=tmp_path,
                capture_output=True,
                text=True,
                env=env,
                timeout=600,
            )
            lines = proc.stderr.strip().splitlines()
            assert proc.returncode != 0 and len(lines) == 1, proc.stderr[-3000:]
            assert "does not list model 'idk_it-s0'" in lines[0] and "--lora-modules" in lines[0], lines[0]
            assert len(srv.gets) > n_gets and srv.n_requests == n_requests  # it asked the list, nothing else
            assert (tmp_path / out).read_bytes() == before and (tmp_path / out).stat().st_mtime_ns == mtime
    print("stage: (wall s, CPU s)", times)

    # every training stage ran as one process started by `accelerate launch` with the one-process config
    launched = [json.loads(x) for x in launches.read_text().splitlines()]
    assert yaml.safe_load(CPU_LAUNCHER.read_text())["num_processes"] == 1
    for script in TRAINING_SCRIPTS:
        runs = [r for r in launched if r["script"] == script]
        assert len(runs) == 1 and runs[0]["accelerate"] == "no", (script, runs)  # single.yaml: mixed_precision 'no'
    assert all(r["accelerate"] is None for r in launched if r["script"] not in TRAINING_SCRIPTS | {"launch.py"})
    for m in ("idk_it", "ca_dpo"):
        trained = json.loads((tmp_path / "metrics" / "train" / f"{m}-s0.json").read_text())
        assert trained["processes"] == 1 and trained["effective_batch_size"] == p["train"]["batch_size"]

    # the trained model's evaluation and consistency asked its adapter, never the base model (a request for
    # the base would be the base's own, answered by the disk cache: no request at all)
    greedy = {"evaluate_sft@idk_it-0", "evaluate_val@idk_it-0"}
    for label in (*greedy, "consistency@idk_it-0"):
        asked = generations(srv, spans[label])
        assert asked and {b["model"] for b in asked} == {"idk_it-s0"}, (label, {b["model"] for b in asked})
        if label in greedy:
            assert all(b["temperature"] == 0.0 and b["n"] == 1 and "seed" not in b for b in asked)
        else:  # K samples per question, seeded
            assert all(b["n"] == p["selective"]["k"] and "seed" in b for b in asked)
    for label in ("evaluate_baseline@base", "consistency_base"):  # and the original model its own name
        assert {b["model"] for b in generations(srv, spans[label])} == {base}
    assert (tmp_path / "data" / "consistency" / "idk_it-s0.jsonl").read_text().strip()

    world = json.loads((tmp_path / "metrics" / "world.json").read_text())
    assert world["source"] == "datasets"
    sources = {label.split(" ")[0] for s in world["sources"].values() for label in s}
    # the profile reads validation questions from the pool's VQAv2 and OVEN releases (so do the fixtures):
    # those on an image of an evaluated split are left out and counted, the rest kept, none on such an image
    dropped, loaded = world["dropped_shared_image"], sum(st["kept"] for st in world["sources"]["val"].values())
    assert 0 < dropped["val"] < loaded and world["splits"]["val"]["n"] == loaded - dropped["val"]
    val_images = {json.loads(x)["image"] for x in (tmp_path / "data" / "world" / "val.jsonl").read_text().splitlines()}
    evaluated = {
        json.loads(x)["image"]
        for p in (tmp_path / "data" / "world").glob("*.jsonl")
        if not p.stem.startswith(("val", "uavqa_val"))
        for x in p.read_text().splitlines()
    }
    assert val_images and not val_images & evaluated
    assert sources == set(F.WRITERS)  # every loader of the profile read its fixture
    assert all(st["bad_images"] == st["bad_fields"] == 0 for s in world["sources"].values() for st in s.values())
    assert world["sets"]["vqav2_idk"]["n"] == 3 and world["splits"]["ood_choice"]["datasets"] == {
        "mmbench": 3,
        "mmmu": 3,
    }
    # the base model is the local folder, by pointer (as a hub id would be), not a copy
    assert json.loads((tmp_path / "models" / "base" / "source.json").read_text()) == {
        "source": str(model),
        "image_aspect_ratio": "pad",
    }
    assert not (tmp_path / "models" / "base" / "model.safetensors").exists()
    sampled = json.loads((tmp_path / "metrics" / "sampling.json").read_text())
    assert sampled["backend"] == "openai" and set(sampled["splits"]) == set(WORLD_SPLITS)
    assert all(s["n_bad"] == 0 for s in sampled["splits"].values())
    # the sampler's requests: the profile's system sentence first, BOS asked for, one hashed seed per question
    # (every generation goes to the server: the samples are its seeded requests, greedy answers carry no seed)
    sample_bodies = [b for b in srv.bodies() if b.get("model") == "llava-hf/llava-1.5-7b-hf" and "seed" in b]
    assert sample_bodies
    bad = [b for b in sample_bodies if b.get("add_special_tokens") is not True]
    assert not bad, {k: v for k, v in bad[0].items() if k != "messages"}
    # K = 3 for the confidence samples, selective.k for the consistency stage's (self-consistency abstention)
    assert {b["n"] for b in sample_bodies} == {3, p["selective"]["k"]}
    bad = [b for b in sample_bodies if b["messages"][0] != {"role": "system", "content": p["prompt"]["system"]}]
    assert not bad, bad[0]["messages"][0]
    # one seed per question, hashed from its id (a question sampled again, by the miniature's temperatures or
    # the consistency stage, keeps its seed; two questions never share one)
    by_seed = {}
    for b in sample_bodies:
        by_seed.setdefault(b["seed"], set()).add(json.dumps(b["messages"], sort_keys=True))
    assert all(len(q) == 1 for q in by_seed.values())
    kept = [json.loads(x) for x in (tmp_path / "data" / "unanswerable" / "kept.jsonl").read_text().splitlines()]
    assert kept and all(r["kind"] == "unanswerable" for r in kept)
    sets = {name: (tmp_path / "data" / "unanswerable" / "sets" / f"{name}.jsonl") for name in ("vizwiz", "vqav2_idk")}
    assert all(len(path.read_text().splitlines()) == 3 for path in sets.values())
    for m in ("idk_it", "ca_dpo"):  # trained with the profile's activation checkpointing; adapters and merged models
        assert (tmp_path / "models" / m / "s0" / "adapter" / "adapter_config.json").is_file()
        assert (tmp_path / "models" / m / "s0" / "model.safetensors").is_file()
    ca_dpo = json.loads((tmp_path / "metrics" / "train" / "ca_dpo-s0.json").read_text())
    assert ca_dpo["steps"] == 2 and ca_dpo["shared_reference"] is True
    # the test sets the testsets stage draws from this world (its test half; the stage also needs the val half)
    sets, manifest = build_testsets(
        load_params(tmp_path / "params.yaml").testsets,
        tmp_path / "data" / "world",
        tmp_path / "data" / "restructured",
        tmp_path / "data" / "unanswerable" / "sets",
        split="test",
    )
    assert {n: s["paper"] for n, s in manifest["sets"].items()} == PAPER_SETS
    assert len(sets["vqav2_idk"]) == 3 and all(r["meta"]["idk_count"] >= 2 for r in sets["vqav2_idk"])

    assert "## Table 1" in (tmp_path / "metrics" / "tables.md").read_text()  # the report, on the paper profile
    manifest = json.loads((tmp_path / "data" / "testsets" / "manifest.json").read_text())
    assert {n: s["paper"] for n, s in manifest["sets"].items()} == PAPER_SETS
    for name in ("base", "idk_it-s0"):
        m = json.loads((tmp_path / "metrics" / "eval" / f"{name}.json").read_text())
        assert m["model"] == name.split("-s")[0] and m["seed"] == (0 if name == "idk_it-s0" else None)
        assert m["overall"]["sets"] == ["perception", "emblem", "choice", "uavqa"]
        assert m["extra"]["sets"] == ["vizwiz", "vqav2_idk"]
        assert "vqa_acc" in m["sets"]["perception"] and "vqa_acc" in m["sets"]["ood_phrasing"]
        assert "vqa_acc" not in m["sets"]["choice"]
        preds = (tmp_path / "data" / "predictions" / f"{name}.jsonl").read_text().splitlines()
        assert len(preds) == sum(s["n"] for s in manifest["sets"].values())

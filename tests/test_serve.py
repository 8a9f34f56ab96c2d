"""Generation through an OpenAI-compatible server (vLLM) at paper scale: every request names the model it
means (the base model, or a trained model's LoRA adapter served under its own name), a stage checks that the
server lists every model it needs before any work, P(refusal start) from the server's log-probs, the GPU
layout that keeps in-process stages off the server's GPUs; against the local fake server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from helpers import ROOT, run_stage_in_process, stage_args, write_params
from inbol.io import read_jsonl, write_json, write_jsonl

BASE = "llava-test-base"
SEEDS = (0,)


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
        preds = [
            {"set": n, "id": r["id"], "response": "red", "verdict": "correct"} for n, rs in sets.items() for r in rs
        ]
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
    run_stage_in_process(stage_args("consistency_base"))
    n = n_questions(repo)
    base_models = [b["model"] for b in fake_openai.bodies() if b]
    assert base_models == [BASE] * n
    fake_openai.requests.clear()
    run_stage_in_process(stage_args("consistency", model="idk_it", seed=0))
    bodies = [b for b in fake_openai.bodies() if b]
    assert [b["model"] for b in bodies] == ["idk_it-s0"] * n  # not the base model, not answered from its cache
    rows = read_jsonl(repo / "data/consistency/idk_it-s0.jsonl")
    assert len(rows) == n and {r["split"] for r in rows} == {"test", "val"}
    # the same model again: every answer from the cache; a retrained adapter under the same name: asked again
    fake_openai.requests.clear()
    run_stage_in_process(stage_args("consistency", model="idk_it", seed=0))
    assert fake_openai.n_requests == 0
    adapter = repo / "models/idk_it/s0/adapter"
    adapter.mkdir()
    for weights in (b"first training", b"retrained"):
        (adapter / "adapter_model.safetensors").write_bytes(weights)
        fake_openai.requests.clear()
        run_stage_in_process(stage_args("consistency", model="idk_it", seed=0))
        assert [b["model"] for b in fake_openai.bodies()] == ["idk_it-s0"] * n
        assert all("model_version" not in b for b in fake_openai.bodies())  # the cache's, never sent


def test_a_server_without_the_needed_adapter_stops_the_stage_before_any_work(
    project, fake_openai, monkeypatch, tmp_path, capsys
):
    """The server lists only the base model: evaluate_sft@idk_it-0 and consistency@idk_it-0 stop with one line
    naming the missing adapter and what the server lists; no generation request is sent, nothing is written."""
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(project, repo)
    monkeypatch.chdir(repo)
    fake_openai.models = [BASE]
    write_params(repo, **served_params(fake_openai.url))
    for argv, out in (
        (stage_args("evaluate_sft", model="idk_it", seed=0), "data/predictions/idk_it-s0.jsonl"),
        (stage_args("consistency", model="idk_it", seed=0), "data/consistency/idk_it-s0.jsonl"),
    ):
        before = (repo / out).read_bytes() if (repo / out).exists() else None
        capsys.readouterr()
        with pytest.raises(SystemExit) as e:
            run_stage_in_process(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(
            f"error: the server at {fake_openai.url} does not list model 'idk_it-s0' (it lists: {BASE});"
        ), err
        assert "\n" not in err and "--lora-modules" in err
        assert fake_openai.n_requests == 0 and fake_openai.gets  # the model list only
        assert ((repo / out).read_bytes() if (repo / out).exists() else None) == before


def test_evaluation_through_the_server_names_the_model_and_scores_refusal_from_logprobs(
    project, fake_openai, monkeypatch, tmp_path, tiny_model
):
    """evaluate_sft@idk_it-0 through the server: greedy requests (temperature 0, BOS, the system sentence) naming the
    adapter, first-token log-probs by token id; P(refusal start) is the probability mass of the refusal templates'
    first tokens among them; no model is loaded in process."""
    import math
    import shutil

    from inbol.models import PromptFormat
    from inbol.models.generate import refusal_first_tokens
    from inbol.refusals import REFUSAL_TEMPLATES

    repo = tmp_path / "repo"
    shutil.copytree(project, repo)
    monkeypatch.chdir(repo)
    refusal_ids = refusal_first_tokens(PromptFormat(tiny_model["processor"]), REFUSAL_TEMPLATES)
    other = next(i for i in range(5, 400) if i not in refusal_ids)
    fake_openai.answer = lambda body, i: "red"
    fake_openai.first_logprobs = lambda body, i: {
        f"token_id:{other}": math.log(0.6),
        f"token_id:{refusal_ids[0]}": math.log(0.3),
    }
    fake_openai.models = [BASE, "idk_it-s0"]
    write_params(repo, **served_params(fake_openai.url, prompt={"system": "Be brief."}))
    monkeypatch.setattr("inbol.models.load_base", lambda *a, **k: pytest.fail("a model was loaded in process"))
    run_stage_in_process(stage_args("evaluate_sft", model="idk_it", seed=0))
    preds = read_jsonl(repo / "data/predictions/idk_it-s0.jsonl")
    assert len(preds) == sum(len(read_jsonl(p)) for p in (repo / "data/testsets").glob("*.jsonl"))
    assert {p["response"] for p in preds} == {"red"} and {p["p_refusal"] for p in preds} == {0.3}
    bodies = fake_openai.bodies()
    assert len(bodies) == len(preds)
    for b in bodies:
        assert b["model"] == "idk_it-s0" and b["n"] == 1 and b["temperature"] == 0.0 and b["max_tokens"] == 4
        assert b["logprobs"] is True and b["top_logprobs"] == 20
        assert b["add_special_tokens"] is True and b["return_tokens_as_token_ids"] is True
        assert b["messages"][0] == {"role": "system", "content": "Be brief."}
    metrics = json.loads((repo / "metrics/eval/idk_it-s0.json").read_text())
    assert metrics["served_model"] == "idk_it-s0" and metrics["seed"] == 0
    # the baselines name the base model; the Refusal Prompt appends the paper's prompt
    fake_openai.requests.clear()
    run_stage_in_process(stage_args("evaluate_baseline", "refusal_prompt"))
    from inbol.evaluation import REFUSAL_SUFFIX

    bodies = fake_openai.bodies()
    assert {b["model"] for b in bodies} == {BASE}
    assert all(b["messages"][1]["content"][1]["text"].endswith(REFUSAL_SUFFIX) for b in bodies)


def test_p_refusal_start_needs_token_ids():
    from inbol.errors import LLMError
    from inbol.serve import p_refusal_start

    assert p_refusal_start({"token_id:3": math_log(0.25), "token_id:4": math_log(0.5)}, [3, 9]) == pytest.approx(0.25)
    assert p_refusal_start({}, [3]) == 0.0  # an empty completion: no first token
    with pytest.raises(LLMError, match=r"^the server named a token 'Sorry', not 'token_id:<id>'"):
        p_refusal_start({"Sorry": -0.1}, [3])


def math_log(x: float) -> float:
    import math

    return math.log(x)


@pytest.mark.usefixtures("one_thread")
def test_miniature_and_filter_answers_come_from_the_servers_base_model(project, fake_openai, monkeypatch, tmp_path):
    """The miniature's greedy answers (with and without the refusal prompt) and its K samples per temperature,
    and the unanswerable filter's base answers, are requests naming the base model; no model loads in process."""
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(project, repo)
    monkeypatch.chdir(repo)
    fake_openai.models = [BASE]
    write_params(repo, **served_params(fake_openai.url))
    monkeypatch.setattr("inbol.models.load_base", lambda *a, **k: pytest.fail("a model was loaded in process"))
    run_stage_in_process(stage_args("miniature"))
    n_val = len(read_jsonl(repo / "data/valsets/perception.jsonl")) + len(
        read_jsonl(repo / "data/valsets/ood_hard.jsonl")
    )
    bodies = fake_openai.bodies()
    assert {b["model"] for b in bodies} == {BASE}
    assert sorted(b["n"] for b in bodies) == [1] * (2 * n_val) + [3] * (2 * n_val)  # 2 prompts; 2 temperatures
    assert {b["temperature"] for b in bodies if b["n"] == 3} == {0.5, 1.0}
    assert json.loads((repo / "metrics/miniature.json").read_text())["k"] == 3
    # the unanswerable filter: the original model's answers on what passes the criteria (the oracle's here)
    fake_openai.requests.clear()
    fake_openai.answer = lambda body, i: "blue"
    run_stage_in_process(stage_args("unanswerable_generate"))  # the template generator: no server
    assert fake_openai.n_requests == 0
    run_stage_in_process(stage_args("unanswerable_filter"))
    kept = read_jsonl(repo / "data/unanswerable/kept.jsonl")
    bodies = fake_openai.bodies()
    assert kept and len(bodies) == len(kept) and {b["model"] for b in bodies} == {BASE}
    assert {b["n"] for b in bodies} == {1} and {r["incorrect_response"] for r in kept} == {"blue"}


# ------------------------------------------------------------------ the GPU layout of one node

LAYOUT = {"server": [0, 1, 2, 3], "train": [4, 5, 6, 7]}


def test_a_stage_that_would_load_onto_a_server_gpu_stops_with_one_line(monkeypatch):
    """The documented 8-GPU layout: the server on GPUs 0-3, everything in process on 4-7.  The device a stage
    picks (CUDA device 0, or LOCAL_RANK under a launcher, through CUDA_VISIBLE_DEVICES) is checked before any
    model loads; CPU-only here, so CUDA is declared available."""
    import torch

    from helpers import section
    from inbol.errors import ParamError
    from inbol.models import pick_device
    from inbol.models.build import check_gpu_layout

    layout = section("gpus", **LAYOUT)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    with pytest.raises(ParamError) as e:
        pick_device("auto", layout=layout, env={})  # nothing set: CUDA device 0 is GPU 0, the server's
    assert str(e.value) == (
        "this stage would load a model onto GPU 0 (CUDA_VISIBLE_DEVICES = unset), which gpus.server (0, 1, 2, 3) "
        "gives to the OpenAI-compatible server; set CUDA_VISIBLE_DEVICES to a GPU of gpus.train (4, 5, 6, 7)"
    )
    assert pick_device("auto", layout=layout, env={"CUDA_VISIBLE_DEVICES": "4"}).type == "cuda"
    with pytest.raises(ParamError, match=r"onto GPU 2 \(CUDA_VISIBLE_DEVICES = '5,2'\), which gpus.server"):
        pick_device("cuda", layout=layout, env={"CUDA_VISIBLE_DEVICES": "5,2", "LOCAL_RANK": "1"})
    assert check_gpu_layout(3, layout, {"CUDA_VISIBLE_DEVICES": "4,5,6,7"}) == 7  # rank 3 of a 4-GPU launch
    with pytest.raises(ParamError, match=r"^this stage would load a model onto GPU 8 .*not one of gpus.train"):
        check_gpu_layout(0, layout, {"CUDA_VISIBLE_DEVICES": "8"})
    with pytest.raises(ParamError, match=r"^CUDA_VISIBLE_DEVICES = 'GPU-1a2b': the gpus layout needs GPU indices"):
        check_gpu_layout(0, layout, {"CUDA_VISIBLE_DEVICES": "GPU-1a2b"})
    # the embedded default has no server: any GPU will do; the CPU is never checked
    assert check_gpu_layout(0, section("gpus"), {}) == 0
    assert pick_device("cpu", layout=layout, env={}).type == "cpu"


def test_the_layout_comes_from_the_params_a_stage_loads(tmp_path, monkeypatch):
    """load_params makes its gpus section the layout the model-loading helpers check (load_model -> pick_device),
    so a stage that loads a model onto a server GPU stops before the weights are read."""
    import torch

    from inbol.errors import ParamError
    from inbol.models import load_model
    from inbol.params import gpu_layout, load_params

    write_params(tmp_path, gpus=LAYOUT)
    p = load_params(tmp_path / "params.yaml")
    assert gpu_layout() == p.gpus and p.gpus.server == [0, 1, 2, 3]
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    with pytest.raises(ParamError, match=r"^this stage would load a model onto GPU 0 .*gpus.server"):
        load_model(tmp_path / "no-such-model")  # stops on the device, before looking for weights


@pytest.mark.parametrize(
    "gpus, message",
    [
        (
            {"server": [0, 1], "train": [1, 2]},
            "gpus.train = [1, 2]: must not share a GPU with gpus.server (both name 1)",
        ),
        ({"server": [0, 0]}, "gpus.server = [0, 0]: must not repeat a value"),
        ({"train": [-1]}, "gpus.train[0] = -1: must be an integer >= 0"),
    ],
)
def test_bad_layouts_are_one_line_errors(gpus, message):
    from helpers import params
    from inbol.errors import ParamError

    with pytest.raises(ParamError) as e:
        params(gpus=gpus)
    assert str(e.value) == message


# ------------------------------------------------------------------ adapters and the server's command


def _random_lora(model, lora, seed):
    import torch
    from peft import get_peft_model

    from inbol.training.lora import lora_config

    peft = get_peft_model(model, lora_config(lora, model))
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for n, prm in peft.named_parameters():
            if "lora_B" in n:  # PEFT starts B at zero: give the adapter a delta
                prm.copy_(torch.randn(prm.shape, generator=g) * 0.05)
    return peft


def test_a_chain_of_adapters_is_one_adapter_of_the_base(tiny_model, tmp_path):
    """CA-DPO's adapter is trained on the merged IDK-IT model; served as a LoRA adapter of the base it is the
    two adapters combined (rank r1 + r2): the base with the combined adapter merged equals the base with IDK-IT
    merged, then CA-DPO merged."""
    import copy

    import torch
    from peft import PeftModel

    from helpers import section
    from inbol.serve import combine_adapters

    base = copy.deepcopy(tiny_model["model"]).float()
    first = _random_lora(copy.deepcopy(base), section("lora", r=4, alpha=8, target_modules=["q_proj", "v_proj"]), 0)
    first.save_pretrained(tmp_path / "idk_it")
    merged = first.merge_and_unload()
    second = _random_lora(merged, section("lora", r=2, alpha=3, target_modules=["q_proj", "down_proj"]), 1)
    second.save_pretrained(tmp_path / "ca_dpo")
    final = second.merge_and_unload()
    cfg = combine_adapters([tmp_path / "idk_it", tmp_path / "ca_dpo"], tmp_path / "served")
    first_re, second_re = (json.loads((tmp_path / d / "adapter_config.json").read_text()) for d in ("idk_it", "ca_dpo"))
    assert cfg["target_modules"] == f"(?:{first_re['target_modules']})|(?:{second_re['target_modules']})"
    assert cfg["r"] == 6 and cfg["lora_alpha"] == 6
    served = PeftModel.from_pretrained(copy.deepcopy(base), str(tmp_path / "served")).merge_and_unload()
    want, got = final.state_dict(), served.state_dict()
    assert set(want) == set(got)
    changed = [k for k in want if not torch.equal(want[k], base.state_dict()[k])]
    assert any("down_proj" in k for k in changed) and any("q_proj" in k for k in changed)
    for k in want:
        torch.testing.assert_close(got[k], want[k], rtol=0, atol=1e-6)


def test_the_vllm_command_serves_every_trained_model_and_seed(tmp_path):
    """The command of the 7B profile: data-parallel over gpus.server, the base model under its request name,
    one --lora-modules entry per trained model and seed (CA-DPO and DPO as combined adapters)."""
    from inbol.params import load_params
    from inbol.profiles import apply
    from inbol.serve import adapter_chain, served_adapters, vllm_command

    apply(ROOT / "configs/llava-1.5-7b.yaml", tmp_path / "params.yaml")
    p = load_params(tmp_path / "params.yaml")
    assert adapter_chain("dpo_2", 1, "m") == [Path("m/idk_it/s1/adapter"), Path("m/dpo_2/s1/adapter")]
    fake = {}
    for model in p.models.trained:
        for seed in p.seeds:
            folder = tmp_path / "models" / model / f"s{seed}" / "adapter"
            folder.mkdir(parents=True)
            (folder / "adapter_config.json").write_text(json.dumps({"r": 16, "peft_type": "LORA"}))
            fake[f"{model}-s{seed}"] = folder
    cmd = vllm_command(p, {**fake, "sft-s9": None})
    assert cmd.startswith("CUDA_VISIBLE_DEVICES=0,1,2,3 vllm serve llava-hf/llava-1.5-7b-hf \\\n")
    flat = " ".join(cmd.replace("\\\n", " ").split())
    assert "--served-model-name llava-hf/llava-1.5-7b-hf" in flat and "--data-parallel-size 4" in flat
    assert "--enable-lora --max-lora-rank 16" in flat and "--max-logprobs 20" in flat and "--port 8000" in flat
    modules = flat.split("--lora-modules ")[1].split()
    assert modules == [f"{n}={f}" for n, f in fake.items()] and len(modules) == len(p.models.trained) * 3
    assert "sft-s9" not in flat  # not trained: left out
    assert served_adapters(p, tmp_path / "nothing", tmp_path / "served") == {n: None for n in fake}


def test_python_m_inbol_serve_writes_the_combined_adapters_and_prints_the_command(tmp_path, capsys, monkeypatch):
    """Trained models whose adapters exist are served (CA-DPO as IDK-IT + its own, combined under models/served);
    the others are named on stderr and left out of the command."""
    import torch
    from safetensors.torch import save_file

    from inbol.serve import main

    monkeypatch.chdir(tmp_path)
    write_params(
        tmp_path,
        seeds=[0, 1],
        models={"baselines": ["base"], "from_base": ["idk_it"], "from_idk_it": ["ca_dpo"], "rl": [], "references": []},
        gpus={"server": [0, 1]},
    )
    cfg = {"peft_type": "LORA", "r": 2, "lora_alpha": 4, "target_modules": "x"}
    for model in ("idk_it", "ca_dpo"):
        folder = tmp_path / "models" / model / "s0" / "adapter"
        folder.mkdir(parents=True)
        (folder / "adapter_config.json").write_text(json.dumps(cfg))
        save_file(
            {"m.q_proj.lora_A.weight": torch.ones(2, 3), "m.q_proj.lora_B.weight": torch.ones(5, 2)},
            str(folder / "adapter_model.safetensors"),
        )
    main([])
    out, err = capsys.readouterr()
    assert err.strip() == "not trained yet (left out): idk_it-s1, ca_dpo-s1"
    flat = " ".join(out.replace("\\\n", " ").split())
    assert flat.startswith("CUDA_VISIBLE_DEVICES=0,1 vllm serve ") and "--data-parallel-size 2" in flat
    assert flat.endswith("--lora-modules idk_it-s0=models/idk_it/s0/adapter ca_dpo-s0=models/served/ca_dpo-s0")
    served = json.loads((tmp_path / "models/served/ca_dpo-s0/adapter_config.json").read_text())
    assert served["r"] == 4 and "--max-lora-rank 8" in flat

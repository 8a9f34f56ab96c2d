"""configs/llava-1.5-{7b,13b}.yaml: complete parameter sets that the stages accept, so that they cannot rot:
every key of params.yaml is there, and every section validates through the classes the stages use."""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

from inbol.boundary import IDKITDataConfig, PreferenceDataConfig, SFTDataConfig, load_subset
from inbol.confidence import RestructureConfig, check_thresholds
from inbol.config import from_dict, load_section
from inbol.evaluation import EvaluateConfig
from inbol.evaluation.testsets import TestsetsConfig
from inbol.judge import JudgeConfig
from inbol.llm import LLMConfig
from inbol.models import BaseModelConfig
from inbol.sampling import SamplingConfig
from inbol.training import DPOParams, LoraParams, TrainParams
from inbol.unanswerable import UnanswerableFilterConfig, UnanswerableGenerateConfig, UnanswerableSetsConfig
from inbol.world import WorldConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ["configs/llava-1.5-7b.yaml", "configs/llava-1.5-13b.yaml"]
SECTIONS = {"world": WorldConfig, "base_model": BaseModelConfig, "sampling": SamplingConfig, "judge": JudgeConfig,
            "restructure": RestructureConfig, "lora": LoraParams, "train": TrainParams, "dpo": DPOParams,
            "testsets": TestsetsConfig, "evaluate": EvaluateConfig, "llm": LLMConfig,
            "unanswerable.generate": UnanswerableGenerateConfig, "unanswerable.filter": UnanswerableFilterConfig,
            "unanswerable.sets": UnanswerableSetsConfig}
SUBSETS = {"idk_it": IDKITDataConfig, "preference": PreferenceDataConfig, "sft": SFTDataConfig}
# sections of other modules, validated when the module exists: (module, class, key)
OPTIONAL = [("inbol.sweep", "SweepBudget", "sweep.budget"), ("inbol.sweep", "SweepThresholds", "sweep.thresholds"),
            ("inbol.probe", "ProbeConfig", "probe")]


def key_paths(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield f"{prefix}{k}"
            yield from key_paths(v, f"{prefix}{k}.")


@pytest.fixture(params=CONFIGS)
def config(request):
    return request.param, yaml.safe_load((ROOT / request.param).read_text())


def test_every_params_key_is_in_the_config(config):
    name, params = config
    default = yaml.safe_load((ROOT / "params.yaml").read_text())
    missing = [k for k in key_paths(default) if k not in set(key_paths(params))]
    assert not missing, f"{name} lacks {missing[:5]} (copy the new params.yaml keys into it)"


def test_every_section_validates_through_the_stage_classes(config):
    name, params = config
    check_thresholds(params["delta_k"], params["delta_uk"])
    loaded = {key: load_section(cls, key, params) for key, cls in SECTIONS.items()}
    for key, cls in SUBSETS.items():
        load_subset(cls, key, params)
    for module, cls, key in OPTIONAL:
        try:
            mod = importlib.import_module(module)
        except ImportError:
            continue
        if hasattr(mod, cls):
            load_section(getattr(mod, cls), key, params)
    world, base, sampling = loaded["world"], loaded["base_model"], loaded["sampling"]
    size = "13b" if "13b" in name else "7b"
    assert world.source == "datasets" and base.source == f"llava-hf/llava-1.5-{size}-hf"
    assert sampling.backend == "openai" and sampling.k == 10 and sampling.openai.model == base.source
    assert loaded["judge"].backend == "openai"
    assert loaded["unanswerable.generate"].backend == "openai" and loaded["unanswerable.filter"].backend == "openai"
    assert (loaded["lora"].r, loaded["lora"].alpha, loaded["train"].lr, loaded["train"].batch_size,
            loaded["train"].epochs) == (16, 32, 2e-4, 16, 1)
    assert (params["delta_k"], params["delta_uk"], params["idk_it"]["size"], params["idk_it"]["known_ratio"],
            params["preference"]["ratio"]) == (0.8, 0.2, 11000, 0.75, [1, 1, 2])
    assert loaded["testsets"].n_per_family == 300 and loaded["testsets"].n_unanswerable == 100
    assert base.dtype == "bfloat16" and loaded["evaluate"].dtype == "bfloat16"
    loaders = {s.loader for specs in world.datasets.sources().values() for s in specs}
    assert loaders == {"vqav2", "oven", "scienceqa", "aokvqa", "gqa", "mmbench", "mmmu", "beyondvisqa", "vizwiz",
                       "vqav2_idk", "records"}


def test_the_accelerate_configs_are_referenced_and_parse():
    for name in ("multi_gpu.yaml", "fsdp.yaml"):
        cfg = yaml.safe_load((ROOT / "configs" / "accelerate" / name).read_text())
        assert cfg["mixed_precision"] == "bf16" and cfg["num_machines"] == 1
    for name in CONFIGS:
        assert "configs/accelerate/multi_gpu.yaml" in (ROOT / name).read_text()
    assert "configs/accelerate/multi_gpu.yaml" in (ROOT / "docs" / "gpu.md").read_text()

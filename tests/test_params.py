"""The params.yaml contract (inbol.params): strict, complete, one line per problem."""

from __future__ import annotations

import copy

import pytest
from pydantic import BaseModel

from helpers import ROOT, default_dict, params, params_dict, section
from inbol import params as P
from inbol.errors import ParamError, run_stage


def _sections(cls=P.Params, seen=None):
    seen = set() if seen is None else seen
    if cls in seen:
        return seen
    seen.add(cls)
    for f in cls.model_fields.values():
        sub = P._unwrap(f.annotation)
        if sub is not None:
            _sections(sub, seen)
    return seen


def test_params_yaml_validates_and_every_key_is_set_there(default_params):
    assert default_params.delta_k == 0.8 and default_params.delta_uk == 0.2
    assert default_params.models.all()[:2] == ["base", "refusal_prompt"]
    assert P.load_params(ROOT / "params.yaml") == default_params


def test_no_section_schema_carries_a_default_that_could_disagree_with_params_yaml():
    optional = {P.DatasetSource, P.DatasetsConfig}  # list entries of world.datasets: defined here only
    for cls in _sections():
        if cls in optional:
            continue
        with_default = [n for n, f in cls.model_fields.items() if not f.is_required()]
        assert not with_default, f"{cls.__name__} defines defaults for {with_default}; set them in params.yaml"


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("world.image_size", 8, "world.image_size = 8: must be an integer in [16, 512]"),
        (
            "world.families",
            ["perception", "colour"],
            "world.families[1] = 'colour': must be one of perception, emblem, choice",
        ),
        ("world.family_mix", [1, 1], "world.family_mix = [1.0, 1.0]: must be 3 positive weights, one per family"),
        ("sampling.top_p", 0, "sampling.top_p = 0: must be in (0, 1]"),
        ("train.lr", "0.1", "train.lr = '0.1': must be a number"),
        ("train.batch_size", 16.0, "train.batch_size = 16.0: must be an integer"),
        ("train.batch_size", True, "train.batch_size = True: must be an integer"),
        ("judge.lenient", 1, "judge.lenient = 1: must be true or false"),
        (
            "judge.endpoint.api_key_env",
            "MY-KEY",
            "judge.endpoint.api_key_env = 'MY-KEY': must be an environment variable",
        ),
        ("lora.target_modules", [], "lora.target_modules = []: must be a non-empty list"),
        ("seeds", [1, 1], "seeds = [1, 1]: must not repeat a value"),
        ("seeds", [], "seeds = []: must be a non-empty list"),
        ("stats.level", 1.0, "stats.level = 1.0: must be in (0, 1)"),
        ("stats.n_boot", 50, "stats.n_boot = 50: must be an integer >= 100"),
        ("stats.cluster", "emblem", "stats.cluster = 'emblem': must be one of"),
        ("selective.costs", [0], "selective.costs[0] = 0: must be > 0"),
        ("delta_uk", 0.8, "delta_uk = 0.8: must be < delta_k (0.8)"),
        ("base_model.arch.vision_feature_layer", -4, "base_model.arch.vision_feature_layer = -4: must be in [-3, -1]"),
        (
            "sweep.cells",
            ["0.2-0.5"],
            'sweep.cells[0] = \'0.2-0.5\': must be "delta_k-delta_uk" with 0 <= delta_uk < delta_k <= 1, e.g. "0.8-0.2"',
        ),
        ("probe.test_per_class", 3, "probe.test_per_class = 3: must be >= probe.min_per_class (20) or null"),
        ("unanswerable.generate.mix", {"swap": 0.0, "generate": 0.0}, "unanswerable.generate.mix = {'swap': 0.0, "),
        ("models.from_base", ["idk_it", "gpt"], "models.from_base[1] = 'gpt': not in the method registry"),
        ("restructure.refusal_templates", 0, "restructure.refusal_templates = 0: must be null or an integer >= 1"),
        (
            "idk_it.known_raito",
            0.5,
            "idk_it.known_raito = 0.5: unknown key; allowed: known_ratio, size, unknown_extrinsic_share",
        ),
        ("world.sizes.poool", 3, "world.sizes.poool = 3: unknown key; allowed: corpus, ood_choice, ood_hard"),
        (
            "colour",
            1,
            "colour = 1: unknown key; allowed: awareness, base_model, ca_dpo, calibration, delta_k, delta_uk",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_key_value_and_what_is_allowed(key, value, expected):
    data = copy.deepcopy(default_dict())
    node = data
    *parents, leaf = key.split(".")
    for k in parents:
        node = node[k]
    node[leaf] = value
    with pytest.raises(ParamError) as e:
        P.validate(P.Params, data)
    assert str(e.value).startswith(expected), str(e.value)
    assert "\n" not in str(e.value)


def test_a_missing_key_and_a_non_mapping_file_are_one_line(tmp_path):
    data = params_dict()
    del data["sampling"]["k"]
    with pytest.raises(ParamError, match=r"^sampling\.k is missing: required key$"):
        P.validate(P.Params, data)
    (tmp_path / "p.yaml").write_text("- a\n- b\n")
    with pytest.raises(ParamError, match="must be a mapping of sections"):
        P.load_params(tmp_path / "p.yaml")
    (tmp_path / "q.yaml").write_text("a: [1\n")
    with pytest.raises(ParamError, match="not valid YAML") as e:
        P.load_params(tmp_path / "q.yaml")
    assert "\n" not in str(e.value)
    with pytest.raises(ParamError, match="file not found"):
        P.load_params(tmp_path / "none.yaml")


def _errors(data) -> list[str]:
    with pytest.raises(ParamError) as e:
        P.validate(P.Params, data)
    return str(e.value).split("\n")


def test_every_problem_is_named_at_once_one_line_each():
    data = params_dict()
    data["sampling"]["k"] = 0
    data["train"]["lr"] = "0.1"
    del data["probe"]["seed"]
    data["world"]["sizes"]["zzz"] = 1
    assert sorted(_errors(data)) == [
        "probe.seed is missing: required key",
        "sampling.k = 0: must be an integer >= 1",
        "train.lr = '0.1': must be a number",
        "world.sizes.zzz = 1: unknown key; allowed: corpus, ood_choice, ood_hard, ood_phrasing, pool, test, val, "
        "val_ood",
    ]


def test_a_renamed_key_is_one_line_with_did_you_mean():
    data = params_dict()
    data["idk_it"]["known_raito"] = data["idk_it"].pop("known_ratio")
    assert _errors(data) == [
        "idk_it.known_raito = 0.75: unknown key (did you mean idk_it.known_ratio?); allowed: known_ratio, size, "
        "unknown_extrinsic_share"
    ]
    # two renamed keys of one section: each paired with its own missing key
    data["idk_it"]["sizee"] = data["idk_it"].pop("size")
    lines = _errors(data)
    assert len(lines) == 2 and not any("missing" in ln for ln in lines), lines
    assert "idk_it.sizee = " in lines[1] and "(did you mean idk_it.size?)" in lines[1], lines
    # an unknown key that looks like no missing key: both are named, no guess
    data = params_dict()
    del data["sampling"]["k"]
    data["sampling"]["zzz"] = 3
    lines = _errors(data)
    assert lines[0] == "sampling.k is missing: required key" and lines[1].startswith("sampling.zzz = 3: unknown key;")


def test_a_yaml_syntax_error_names_the_file_line_and_column(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("delta_k: 0.8\nsampling:\n  k: 4\n   top_p: 1\n")
    with pytest.raises(ParamError) as e:
        P.load_params(path)
    assert str(e.value) == f"{path}: not valid YAML at line 4, column 9: mapping values are not allowed here"
    path.write_text("seeds: [0, 1\ndelta_k: 0.8\n")
    with pytest.raises(ParamError) as e:
        P.load_params(path)
    assert str(e.value).startswith(f"{path}: not valid YAML at line 2, column 8: expected ',' or ']'"), str(e.value)
    assert "(while parsing a flow sequence at line 1, column 8)" in str(e.value) and "\n" not in str(e.value)


def test_a_stage_prints_every_problem_as_its_own_error_line(capsys):
    data = params_dict()
    data["sampling"]["k"] = 0
    data["train"]["lr"] = "0.1"

    def main():
        P.validate(P.Params, data)

    with pytest.raises(SystemExit) as e:
        run_stage(main)
    assert e.value.code == 2
    assert capsys.readouterr().err.splitlines() == [
        "error: sampling.k = 0: must be an integer >= 1",
        "error: train.lr = '0.1': must be a number",
    ]


def test_replace_returns_a_validated_copy():
    train = section("train")
    changed = train.replace(lr=0.01, epochs=2)
    assert (changed.lr, changed.epochs, train.lr) == (0.01, 2.0, section("train").lr)
    with pytest.raises(Exception):
        train.replace(lr=-1)
    with pytest.raises(Exception):
        train.replace(grad_accum=3)  # the model-level check runs on the copy too
    with pytest.raises(Exception):
        train.lr = 0.5  # frozen


def test_dpo_and_sweep_budget_overrides():
    train = section("train", lr=0.003, epochs=3)
    assert section("dpo", lr=0.001, epochs=None).apply(train).lr == 0.001
    assert section("dpo", lr=None, epochs=None).apply(train) == train
    budget = section("sweep.budget", epochs=1, max_steps=7, lr=0.01)
    t = budget.train(train)
    assert (t.epochs, t.max_steps, t.lr) == (1.0, 7, 0.01)


def test_loader_options_are_checked_with_the_params():
    sources = {
        "pool": [{"loader": "vqav2_idk", "path": "json", "options": {"min_idk": "2"}}],
        "test": [{"loader": "scienceqa", "path": "x"}],
    }
    with pytest.raises(ParamError, match=r"world\.datasets\.pool\[0\]\.options\.min_idk = '2': must be of type int"):
        params(world={"source": "datasets", "datasets": sources})
    sources["pool"][0]["options"] = {"mmm": 1}
    with pytest.raises(ParamError, match="unknown option for loader vqav2_idk; allowed: idk_keywords, min_idk"):
        params(world={"source": "datasets", "datasets": sources})
    sources["pool"][0] = {"loader": "mmmu", "path": "MMMU/MMMU", "options": {"multi_image": "all"}}
    with pytest.raises(ParamError, match="multi_image = 'all': must be one of skip, first"):
        params(world={"source": "datasets", "datasets": sources})
    sources["pool"][0]["options"] = {"multi_image": "first"}
    p = params(world={"source": "datasets", "datasets": sources})
    assert p.world.datasets.pool[0].split == "train" and p.world.datasets.test[0].limit is None
    with pytest.raises(ParamError, match=r"world\.datasets = None: must list the dataset sources"):
        params(world={"source": "datasets"})


def test_endpoint_is_one_schema_for_every_llm_setting(default_params):
    for ep in (default_params.llm, default_params.judge.endpoint, default_params.sampling.openai):
        assert isinstance(ep, P.Endpoint)
    assert "api_key" not in P.Endpoint.model_fields  # only the variable's name is a parameter


def test_every_section_class_forbids_unknown_keys_and_is_strict():
    for cls in _sections():
        assert issubclass(cls, BaseModel)
        assert cls.model_config.get("extra") == "forbid" and cls.model_config.get("strict") is True, cls

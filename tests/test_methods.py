"""The method registry (inbol.methods): one spec per method, from which the params schema, the report's tables
and labels, the search and the training stages read what a method is; bad specs and unknown methods are
one-line errors; a method without a paper row appears in its tables with dashes; and IPO, the baseline added
by one spec, trains with TRL's own IPO loss."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import pytest
import torch
import yaml
from trl import DPOConfig, DPOTrainer

from helpers import ROOT, section
from inbol.boundary.sets import SET_NAMES
from inbol.errors import ParamError
from inbol.evaluation import tables
from inbol.methods.registry import methods_in, registry
from inbol.methods.spec import TRL_DPO_LOSSES, MethodSpec, load, make, names

FIELDS = dict(
    name="simpo_x",
    label="SimPO-x",
    kind="preference",
    start="idk_it",
    data="dpo_3",
    loss="ipo",
    paper_table1=None,
    paper_table3=None,
    paper_table4=None,
    tables=("table1",),
    order=60,
)


def one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert msg and "\n" not in msg
    return msg


# ------------------------------------------------------------------------------------------------
# the registry and what derives from it
# ------------------------------------------------------------------------------------------------


def test_every_method_module_is_a_valid_spec_named_after_its_file():
    found = sorted((ROOT / "src/inbol/methods").glob("*.py"))
    modules = {f.stem for f in found} - {"__init__", "spec", "registry"}
    assert set(names()) == modules and set(registry()) == modules
    for n, spec in registry().items():
        assert isinstance(spec, MethodSpec) and spec.name == n
        assert spec.data is None or spec.data in SET_NAMES, (n, spec.data)  # a set that `construct` writes


def test_the_params_lists_are_methods_of_the_start_they_are_listed_under():
    p = yaml.safe_load((ROOT / "params.yaml").read_text())["models"]
    starts = {"baselines": None, "from_base": "base", "from_idk_it": "idk_it", "references": None}
    assert set(p) == {*starts, "rl"}
    for key, start in starts.items():
        for m in p[key]:
            assert registry()[m].start == start and registry()[m].kind != "rl", (key, m)
    for m in p["rl"]:  # the RL methods: kind rl, from whichever start their spec names
        assert registry()[m].kind == "rl" and registry()[m].start in ("base", "idk_it"), m


def test_tables_labels_and_figure_lists_follow_the_specs():
    for table, listed in (
        ("table1", tables.TABLE1_MODELS),
        ("table2", tables.TABLE2_MODELS),
        ("table3", tables.TABLE3_MODELS),
        ("table4", tables.TABLE4_MODELS),
    ):
        want = [n for n, s in sorted(registry().items(), key=lambda kv: kv[1].order) if table in s.tables]
        assert list(listed) == want
    from inbol.evaluation.abstention import LABELS
    from inbol.evaluation.report import FIG4_MODELS
    from inbol.summary import MODEL_LABEL

    assert set(LABELS) == {n for n, s in registry().items() if "table5" in s.tables}
    assert set(FIG4_MODELS) == {n for n, s in registry().items() if "figure4" in s.tables}
    assert set(MODEL_LABEL) == set(registry())
    for n, s in registry().items():
        assert MODEL_LABEL[n].lstrip("+") == s.label == tables.label(n)
    assert list(MODEL_LABEL)[: len(methods_in("table1"))] == list(methods_in("table1"))


def test_the_searched_methods_and_the_adapter_chain_read_the_registry():
    from inbol.search import METHODS
    from inbol.serve import adapter_chain

    assert set(METHODS) <= set(registry())
    for n, s in registry().items():
        if s.trained:
            chain = adapter_chain(n, 2, "m")
            assert chain[-1] == Path(f"m/{n}/s2/adapter")
            assert len(chain) == (2 if s.start == "idk_it" else 1)
            if s.start == "idk_it":
                assert chain[0] == Path("m/idk_it/s2/adapter")


def test_no_other_module_lists_method_names():
    """Outside the registry, no tuple, list, set or dict in the library is made of method names only (the one
    list of names is the registry; search.SECTIONS and abstention.WITH_SC are keyed by what they configure)."""
    allowed = {("search.py", "SECTIONS"), ("abstention.py", "WITH_SC")}
    names_set = set(registry())
    found = []
    for f in (ROOT / "src/inbol").rglob("*.py"):
        if "methods" in f.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(f.read_text())):
            if not isinstance(node, ast.Assign) or not isinstance(node.targets[0], ast.Name):
                continue
            v = node.value
            elts = v.keys if isinstance(v, ast.Dict) else getattr(v, "elts", None)
            if not elts or not all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in elts):
                continue
            if len(elts) >= 2 and {e.value for e in elts} <= names_set and (f.name, node.targets[0].id) not in allowed:
                found.append(f"{f.relative_to(ROOT)}:{node.lineno} {node.targets[0].id}")
    assert not found, found


# ------------------------------------------------------------------------------------------------
# a method without a paper row
# ------------------------------------------------------------------------------------------------


def test_a_method_without_a_paper_row_appears_in_its_tables_with_dashes_in_the_paper_columns():
    no_paper = [  # a trained or prompted method (a reference row, kind inference, has no "+": tests/test_references.py)
        n for n, s in registry().items() if s.paper_table1 is None and "table1" in s.tables and s.kind != "inference"
    ]
    assert no_paper, "the registry has a method outside the paper (ipo)"
    m = no_paper[0]
    spec = registry()[m]
    cis = {n: {"in_domain": {}, "ood": {}, "sets": {}, "seeds": [0, 1, 2]} for n in registry()}
    t1 = "\n".join(tables.table1(cis, {}))
    t2 = "\n".join(tables.table2(cis, {}))
    t3 = "\n".join(tables.table3(cis, {"vizwiz": None}))
    t4 = "\n".join(tables.table4(cis))
    for text in (t1, t2):
        ours = [r for r in text.splitlines() if r.startswith(f"| +{spec.label} |")]
        paper_row = [r for r in text.splitlines() if r.startswith(f"| _paper: +{spec.label} (not in the paper)_ |")]
        assert len(ours) == 1 and len(paper_row) == 1, text
        assert set(paper_row[0].strip("|").split("|")[1:]) == {f" {tables.NO_PAPER} "}
    if "table3" in spec.tables:
        header = next(r for r in t3.splitlines() if r.startswith("| Refusal rate"))
        col = header.strip("|").split("|").index(f" {spec.label} ")
        for r in [r for r in t3.splitlines() if r.startswith("| _paper")]:
            assert r.strip("|").split("|")[col].strip() == tables.NO_PAPER
    if "table4" in spec.tables:
        paper_row = [r for r in t4.splitlines() if r.startswith(f"| _paper 7B: {spec.label}_ |")]
        assert len(paper_row) == 1 and paper_row[0].count(tables.NO_PAPER) == 6
        data = paper_row[0].strip("|").split("|")[1].strip()
        same_data = [s.paper_table4 for s in registry().values() if s.data == spec.data and s.paper_table4]
        assert data == (same_data[0].split(" ")[1] if same_data else spec.data)


# ------------------------------------------------------------------------------------------------
# bad input
# ------------------------------------------------------------------------------------------------


def test_a_method_named_in_params_but_not_in_the_registry_is_a_one_line_error():
    with pytest.raises(ParamError) as e:
        section("models", from_idk_it=["ca_dpo", "simpo"])
    assert one_line(e) == (
        "models.from_idk_it[1] = 'simpo': not in the method registry (src/inbol/methods/<name>.py); allowed: "
        + ", ".join(names())
    )


def test_a_method_listed_under_the_wrong_start_is_a_one_line_error():
    with pytest.raises(ParamError) as e:
        section("models", from_base=["sft", "idk_it", "ca_dpo"])
    assert one_line(e) == (
        "models.from_base[2] = 'ca_dpo': starts from idk_it (src/inbol/methods/ca_dpo.py): list it in "
        "models.from_idk_it"
    )
    with pytest.raises(ParamError) as e:
        section("models", from_base=["sft"])
    assert "models.from_idk_it = " in one_line(e) and "needs idk_it in models.from_base" in str(e.value)


def test_the_old_single_list_of_trained_models_is_a_one_line_error():
    with pytest.raises(ParamError) as e:
        section("models", trained=["sft"])
    assert one_line(e).startswith(
        "models.trained = ['sft']: unknown key; allowed: baselines, from_base, from_idk_it, references, rl"
    )


@pytest.mark.parametrize(
    "drop, extra, message",
    [
        ("order", {}, "method 'simpo_x': field 'order' is missing; a MethodSpec gives every field: name, label,"),
        (None, {"beta": 0.1}, "method 'simpo_x': unknown field 'beta'; allowed: name, label, kind,"),
        (None, {"loss": "simpo"}, "method 'simpo_x': loss 'simpo': allowed: ca_dpo, sigmoid, hinge, ipo,"),
        (None, {"start": "base"}, "method 'simpo_x': kind preference: start must be idk_it, got base"),
        (None, {"kind": "sft", "start": "base"}, "method 'simpo_x': kind sft: loss must be None"),
        (None, {"name": "SimPO"}, "method 'SimPO': name: must be lower-case letters, digits and _"),
        (None, {"paper_table4": "IPO"}, "method 'simpo_x': paper_table4 'IPO': must be '<method> (<data>)'"),
        (None, {"tables": ("table9",)}, "method 'simpo_x': tables.0: Input should be 'table1',"),
    ],
)
def test_a_bad_spec_is_a_one_line_error_naming_the_field(drop, extra, message):
    fields = {k: v for k, v in FIELDS.items() if k != drop} | extra
    with pytest.raises(ParamError) as e:
        make(**fields)
    assert one_line(e).startswith(message), str(e.value)


def test_a_broken_spec_named_in_params_is_its_own_one_line_error(tmp_path, monkeypatch):
    """A method module whose spec misses a field fails the params check with the spec's line, not as unknown."""
    import inbol.methods
    import inbol.schema.models

    (tmp_path / "broken.py").write_text(
        "from inbol.methods.spec import make\n"
        + "SPEC = make("
        + ", ".join(f"{k}={v!r}" for k, v in {**FIELDS, "name": "broken"}.items() if k != "loss")
        + ")\n"
    )
    monkeypatch.setattr(inbol.methods, "__path__", [*inbol.methods.__path__, str(tmp_path)])
    monkeypatch.setattr(inbol.schema.models, "names", lambda: (*names(), "broken"))
    with pytest.raises(ParamError) as e:
        section("models", from_idk_it=["ca_dpo", "broken"])
    assert one_line(e).startswith(
        "models.from_idk_it[1] = 'broken': method 'broken': field 'loss' is missing; a MethodSpec gives every "
        "field: name, label,"
    )


def test_loading_an_unknown_method_lists_the_registry():
    with pytest.raises(ParamError) as e:
        load("simpo")
    assert one_line(e) == (
        f"method 'simpo': not in the method registry (src/inbol/methods/<name>.py); allowed: {', '.join(names())}"
    )
    for bad in ("spec", "registry", "../x", "Base"):
        with pytest.raises(ParamError):
            load(bad)


def test_the_trl_loss_types_are_those_of_the_installed_trl():
    source = inspect.getsource(DPOTrainer._compute_loss)
    assert set(TRL_DPO_LOSSES) == set(re.findall(r'loss_type == "(\w+)"', source))


# ------------------------------------------------------------------------------------------------
# IPO: TRL's own loss through the registry
# ------------------------------------------------------------------------------------------------


def test_ipo_is_a_preference_method_from_idk_it_on_ca_dpos_pairs():
    ipo = load("ipo")
    assert (ipo.kind, ipo.start, ipo.loss, ipo.data) == ("preference", "idk_it", "ipo", "dpo_3")
    assert ipo.paper_table1 is ipo.paper_table4 is None


@pytest.fixture(scope="module")
def pairs(tiny_world, tiny_model, tmp_path_factory):
    from inbol.io import read_jsonl, write_jsonl

    root = tmp_path_factory.mktemp("ipo")
    pool = [{**r, "image": str(tiny_world["root"] / r["image"])} for r in read_jsonl(tiny_world["dir"] / "pool.jsonl")]
    rows = []
    for i, r in enumerate(pool):
        chosen, rejected = (r["answers"][0], "zebra") if i % 2 else ("Sorry, I can not help with it.", "zebra")
        rows.append({"id": r["id"], "image": r["image"], "prompt": r["question"], "bucket": "mixed"})
        rows[-1].update(chosen=chosen, rejected=rejected, weight=1.0)
    write_jsonl(root / "dpo_3.jsonl", rows)
    return {"root": root, "data": root / "dpo_3.jsonl", "base": tiny_model["dir"]}


def _trainer(pairs, work, loss_type, cls=None):
    from inbol.models import PromptFormat, load_model
    from inbol.training.ca_dpo import PairDPOTrainer
    from inbol.training.data import preference_dataset
    from inbol.training.lora import lora_config
    from inbol.training.runtime import trainer_kwargs

    model, proc = load_model(pairs["base"], device="cpu", dtype="float32")
    ds = preference_dataset(pairs["data"], PromptFormat(proc), "dpo")
    train = section("train", lr=0.05, batch_size=4, max_steps=2, save_steps=2, logging_steps=1, warmup_ratio=0.0)
    args = DPOConfig(
        **{**trainer_kwargs(train, work, 0, resumable=False), "disable_tqdm": True},
        beta=0.1,
        precompute_ref_log_probs=False,
        max_length=None,
        loss_type=loss_type,
    )
    lora = lora_config(section("lora", modules_to_save=[]), model)
    if cls is DPOTrainer:
        stock = ds.map(lambda r: {"chosen": r["w1"], "rejected": r["l1"]}).select_columns(
            ["image", "prompt", "chosen", "rejected"]
        )
        return DPOTrainer(model=model, args=args, train_dataset=stock, processing_class=proc, peft_config=lora)
    return PairDPOTrainer(model=model, args=args, train_dataset=ds, processing_class=proc, peft_config=lora)


def _move_lora(model):
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for n, p in model.named_parameters():
            if "lora_B" in n:
                p.copy_(torch.randn(p.shape, generator=g) * 2.0)


def test_ipo_trains_with_trls_own_ipo_loss(pairs, tmp_path):
    """Same pairs, same LoRA weights: the IPO method's trainer gives TRL DPOTrainer's IPO loss (not CA-DPO's or
    the sigmoid loss), which is IPO's squared loss on the length-normalised log-ratio margin."""
    ours = _trainer(pairs, tmp_path / "a", "ipo")
    stock = _trainer(pairs, tmp_path / "b", "ipo", DPOTrainer)
    sigmoid = _trainer(pairs, tmp_path / "c", "sigmoid")
    for t in (ours, stock, sigmoid):
        _move_lora(t.model)
    idx = [0, 1, 2, 3]
    with torch.no_grad():
        batch = ours.data_collator([dict(ours.train_dataset[i]) for i in idx])
        l_ours = ours.compute_loss(ours.model, batch).item()
        l_stock = stock.compute_loss(stock.model, stock.data_collator([dict(stock.train_dataset[i]) for i in idx]))
        l_sigmoid = sigmoid.compute_loss(sigmoid.model, batch).item()
        # IPO by hand: ((D_w / n_w - D_l / n_l) - 1 / (2 beta))^2, D = policy - reference sequence log-prob
        policy, _ = ours.sequence_logps(ours.model, batch)
        ref = ours.reference_logps(batch)
        lengths = batch["completion_mask"].sum(1).float()
        pi = batch["pair_index"]
        d_w, d_l = (
            (policy[pi[:, 0]] - ref[:, 0]) / lengths[pi[:, 0]],
            (policy[pi[:, 1]] - ref[:, 1]) / lengths[pi[:, 1]],
        )
        by_hand = ((d_w - d_l - 1 / (2 * 0.1)) ** 2).mean().item()
    assert l_ours == pytest.approx(l_stock.item(), rel=1e-5)
    assert l_ours == pytest.approx(by_hand, rel=1e-4)
    assert abs(l_ours - l_sigmoid) > 1.0  # the loss type is honoured, not replaced


def test_the_ipo_method_trains_through_the_stage_library_call(pairs, tmp_path):
    from inbol.methods.spec import CA_DPO_LOSS
    from inbol.training.ca_dpo import train_preference

    spec = load("ipo")
    out = tmp_path / "ipo"
    m = train_preference(
        pairs["data"],
        pairs["base"],
        out,
        kind="ca_dpo" if spec.loss == CA_DPO_LOSS else "dpo",
        loss_type=spec.loss,
        lora=section("lora", modules_to_save=[]),
        train=section("train", lr=0.05, batch_size=4, max_steps=3, save_steps=2, logging_steps=1, warmup_ratio=0.0),
        dpo=section("dpo", lr=None, epochs=None),
        seed=0,
        work_dir=tmp_path / "ckpt",
        name=spec.name,
    )
    assert m["kind"] == "dpo" and m["loss_type"] == "ipo" and m["stage"] == "ipo" and m["steps"] == 3
    assert (out / "adapter" / "adapter_config.json").is_file() and (out / "model.safetensors").is_file()
    assert m["final_loss"] is not None and m["final_loss"] > 0


# ------------------------------------------------------------------------------------------------
# dvc.yaml: the training and evaluation stages loop over the params lists
# ------------------------------------------------------------------------------------------------


def test_training_and_evaluation_stages_loop_over_the_params_lists_of_methods():
    """A new method is a params entry, not a stage: train_sft / train_preference and evaluate_sft /
    evaluate_preference are matrices over models.from_base / models.from_idk_it and the seeds, the two
    evaluations one definition (a YAML anchor) with their own list; each training stage's deps name only its
    own method's spec file."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for stage, key, script in (
        ("train_sft", "from_base", "stages/train_sft.py"),
        ("train_preference", "from_idk_it", "stages/train_preference.py"),
    ):
        s = stages[stage]
        assert s["matrix"] == {"method": f"${{models.{key}}}", "seed": "${seeds}"}
        assert f"{script} --method ${{item.method}}" in s["cmd"]
        spec_deps = [d for d in s["deps"] if d.startswith("src/inbol/methods")]
        assert spec_deps == [
            "src/inbol/methods/__init__.py",
            "src/inbol/methods/spec.py",
            "src/inbol/methods/${item.method}.py",
        ]
    sft, pref = stages["evaluate_sft"], stages["evaluate_preference"]
    assert sft["matrix"] == {"model": "${models.from_base}", "seed": "${seeds}"}
    assert pref["matrix"] == {"model": "${models.from_idk_it}", "seed": "${seeds}"}
    assert {k: v for k, v in sft.items() if k != "matrix"} == {k: v for k, v in pref.items() if k != "matrix"}
    assert not [n for n in stages if re.match(r"train_(idk_it|ca_dpo|dpo)$|evaluate$", n)]

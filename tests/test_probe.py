"""The linear probe (inbol.probe, stage `probe`; paper appendix G.4, Table 7): example selection and class
balance, the too-few-examples error, the classifiers and the shuffled-label control, feature extraction on a
tiny LLaVA, and the stage end to end on a tiny project."""
from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest
import torch
import yaml

from inbol.config import DataError, ParamError, from_dict
from inbol.evaluation import make_testset
from inbol.io import read_json, read_jsonl, write_json, write_jsonl
from inbol.probe import (PAPER_ACCURACY, ProbeConfig, eval_candidates, extract_features, probe_features,
                         select_examples, train_candidates)

ROOT = Path(__file__).resolve().parents[1]
ARCH = {"vocab_size": 400, "vision": {"hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "patch_size": 16},
        "text": {"hidden_size": 32, "intermediate_size": 64, "num_layers": 1, "num_heads": 2}}
FAST = {"hidden_sizes": [32, 16], "epochs": 150, "lr": 0.01, "control_repeats": 2, "min_per_class": 2}
UA_QUESTION = "What is written on the back of the card?"


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def cfg(**kw) -> ProbeConfig:
    return from_dict(ProbeConfig, {**FAST, **kw}, "probe")


# ------------------------------------------------------------------ config

@pytest.mark.parametrize("key,value,msg", [
    ("max_conf", 1.0, "probe.max_conf = 1.0: must be in [0, 1)"),
    ("min_per_class", 0, "probe.min_per_class = 0: must be an integer >= 1"),
    ("train_per_class", 1, "probe.train_per_class = 1: must be >= probe.min_per_class (2) or null"),
    ("hidden_sizes", [8], "probe.hidden_sizes = [8]: must be two integers >= 1"),
    ("device", "tpu", "probe.device = 'tpu': must be one of auto, cpu, cuda, mps"),
    ("epochs", 0, "probe.epochs = 0: must be an integer >= 1"),
])
def test_config_errors_are_one_line(key, value, msg):
    with pytest.raises(ParamError) as e:
        cfg(**{key: value})
    assert str(e.value).startswith(msg) and "\n" not in str(e.value)


def test_config_defaults_are_the_papers():
    c = from_dict(ProbeConfig, {}, "probe")
    assert c.max_conf == 0.2 and len(c.hidden_sizes) == 2 and c.train_per_class == 1000
    assert PAPER_ACCURACY == {"idk_it": 87.01, "ca_dpo": 80.83}


# ------------------------------------------------------------------ selection

def _vqa(i, conf, family="perception", origin="vqa"):
    return {"id": f"pool-{i}", "image": "img.png", "question": f"q{i}", "conf": conf, "kind": "open",
            "meta": {"family": family}, "origin": origin}


def _ua(i, method="template", prefix="ua"):
    return {"id": f"{prefix}-{i}", "image": "img.png", "question": UA_QUESTION, "kind": "unanswerable",
            "answers": [], "meta": {"method": method}}


def _testsets(n_unknown=6, n_known=4, n_ua=5):
    ans = [{"id": f"t-{i}", "image": "img.png", "question": f"t{i}", "kind": "open", "answers": ["x"],
            "conf_base": 0.0 if i < n_unknown else 0.9} for i in range(n_unknown + n_known)]
    return {"perception": make_testset("perception", ans),
            "uavqa": make_testset("uavqa", [_ua(i, prefix="uavqa") for i in range(n_ua)]),
            "ood_hard": make_testset("ood_hard", [{**a, "id": "o" + a["id"]} for a in ans]),
            "beyond": make_testset("beyond", [_ua(i, prefix="beyond") for i in range(n_ua)])}


def test_candidates_follow_the_unknown_rule_and_origins():
    pool = [_vqa(0, 0.0), _vqa(1, 0.2), _vqa(2, 0.1 * 2), _vqa(3, 0.3), _vqa(4, 1.0),
            _vqa(5, 0.0, origin="unanswerable") | {"kind": "unanswerable", "meta": {"method": "swap"}}]
    c = train_candidates(pool, [_ua(0), _ua(1, "swap")], 0.2)
    assert [e["id"] for e in c["intrinsic"]] == ["pool-0", "pool-1", "pool-2"]     # conf <= 0.2 (0.1*2 too)
    assert [e["id"] for e in c["extrinsic"]] == ["ua-0", "ua-1", "pool-5"]
    assert {e["label"] for e in c["intrinsic"]} == {0} and {e["label"] for e in c["extrinsic"]} == {1}
    t = eval_candidates(_testsets(), 0.2)
    assert len(t["intrinsic"]) == 6 and len(t["extrinsic"]) == 5                     # in domain only
    assert {e["group"] for e in t["intrinsic"]} == {"perception"} and {e["group"] for e in t["extrinsic"]} == {"uavqa"}


def test_selection_is_balanced_seeded_and_counted():
    pool = [_vqa(i, 0.0, ("perception", "emblem")[i % 2]) for i in range(30)]
    kept = [_ua(i) for i in range(12)]
    c = cfg(train_per_class=10, min_per_class=3)
    data = select_examples(pool, kept, _testsets(), c, check_images=False)
    assert data.counts["train"]["available"] == {"intrinsic": 30, "extrinsic": 12}
    assert data.counts["train"]["used"] == {"intrinsic": 10, "extrinsic": 10}
    assert data.counts["test"]["used"] == {"intrinsic": 5, "extrinsic": 5} and data.counts["test"]["share_extrinsic"] == 0.5
    assert sum(data.counts["train"]["by_group"]["intrinsic"].values()) == 10
    again = select_examples(pool, kept, _testsets(), c, check_images=False)
    assert [e["id"] for e in again.train] == [e["id"] for e in data.train]


def test_too_few_examples_is_one_line_with_the_counts():
    pool = [_vqa(0, 0.0), _vqa(1, 0.0), _vqa(2, 0.1), _vqa(3, 0.9)]
    with pytest.raises(DataError) as e:
        select_examples(pool, [_ua(i) for i in range(40)], _testsets(), cfg(min_per_class=5), check_images=False)
    assert str(e.value) == ("probe: too few train examples to train on: 3 intrinsic (answerable, conf <= 0.2) and "
                            "40 extrinsic (unanswerable); probe.min_per_class = 5")
    pool = [_vqa(i, 0.0) for i in range(10)]
    with pytest.raises(DataError) as e:
        select_examples(pool, [_ua(i) for i in range(10)], _testsets(n_ua=2), cfg(min_per_class=5), check_images=False)
    assert str(e.value).startswith("probe: too few test examples to test on: 6 intrinsic") and "2 extrinsic" in str(e.value)


# ------------------------------------------------------------------ classifiers and the control

def _blobs(n, dim, shift, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, dim, generator=g) * 3.0 + 10.0          # off-centre, large scale: needs standardising
    x[:, 0] += shift * (2 * y - 1)
    x[:, 1] -= shift * (2 * y - 1)
    return x, y


def test_classifiers_separate_a_separable_case():
    x, y = _blobs(200, 16, 6.0, 0)
    xt, yt = _blobs(100, 16, 6.0, 1)
    out = probe_features(x, y, xt, yt, cfg(), ["g"] * 100)
    assert out["feature_dim"] == 16
    assert out["mlp"]["accuracy"] >= 95 and out["logreg"]["accuracy"] >= 95
    assert out["mlp"]["balanced_accuracy"] >= 95 and out["mlp"]["by_group"]["g"]["n"] == 100
    assert 35 <= out["shuffled"]["accuracy"] <= 65                  # permuted training labels: chance


def test_shuffled_control_near_chance_on_random_data():
    g = torch.Generator().manual_seed(3)
    x, xt = torch.randn(300, 24, generator=g), torch.randn(300, 24, generator=g)
    y, yt = torch.arange(300) % 2, torch.randperm(300, generator=g) % 2
    out = probe_features(x, y, xt, yt, cfg(control_repeats=3))
    for reading in (out["mlp"]["accuracy"], out["logreg"]["accuracy"], out["shuffled"]["accuracy"]):
        assert 38 <= reading <= 62
    assert len(out["shuffled"]["runs"]) == 3 and out["shuffled"]["chance"] == 50.0


def test_single_training_class_is_an_error():
    with pytest.raises(DataError, match="single class"):
        probe_features(torch.randn(4, 3), torch.zeros(4, dtype=torch.long), torch.randn(2, 3), torch.zeros(2), cfg())


# ------------------------------------------------------------------ a tiny model and the stage

@pytest.fixture(scope="module")
def project(tmp_path_factory):
    from inbol.models import ArchConfig, build_processor, build_tiny_llava, train_tokenizer
    from inbol.models.base import tokenizer_texts
    from inbol.world import WorldConfig, build_world

    root = tmp_path_factory.mktemp("probeproj")
    build_world(from_dict(WorldConfig, {"sizes": {"corpus": 20, "pool": 24, "test": 24, "ood_hard": 1,
                                                  "ood_phrasing": 1, "ood_choice": 1},
                                        "n_emblems": 6, "emblem_max_exposure": 20}, "world"),
                root / "data/world", image_prefix="data/world")
    pool, test = read_jsonl(root / "data/world/pool.jsonl"), read_jsonl(root / "data/world/test.jsonl")
    write_jsonl(root / "data/restructured/pool.jsonl",
                [{**r, "conf": (0.0, 0.2, 0.5, 1.0)[i % 4], "origin": "vqa"} for i, r in enumerate(pool)])
    write_jsonl(root / "data/unanswerable/kept.jsonl",
                [{**r, "id": f"ua-{r['id']}", "question": UA_QUESTION, "answers": [], "kind": "unanswerable",
                  "conf": 0.0, "meta": {"method": "template"}} for r in pool[:10]])
    perception = [{**r, "conf_base": (0.0, 0.75)[i % 2]} for i, r in enumerate(test[:16])]
    uavqa = [{**r, "id": f"uavqa-{i}", "question": UA_QUESTION, "answers": [], "kind": "unanswerable",
              "conf_base": None} for i, r in enumerate(test[16:])]
    write_jsonl(root / "data/testsets/perception.jsonl", perception)
    write_jsonl(root / "data/testsets/uavqa.jsonl", uavqa)
    write_json(root / "data/testsets/manifest.json",
               {"sets": {"perception": {"group": "in_domain", "answerable": True, "paper": "VQAv2"},
                         "uavqa": {"group": "in_domain", "answerable": False, "paper": "UaVQA"}}})
    tok = train_tokenizer(tokenizer_texts(read_jsonl(root / "data/world/corpus.jsonl")), 400)
    proc = build_processor(tok, 48, 16)
    for name, seed in (("idk_it", 0), ("ca_dpo", 1)):
        model = build_tiny_llava(from_dict(ArchConfig, ARCH, "arch"), tok, 48, seed=seed)
        model.save_pretrained(root / f"models/{name}")
        proc.save_pretrained(root / f"models/{name}")
    params = {"probe": {**FAST, "min_per_class": 4, "batch_size": 5, "device": "cpu", "dtype": "float32"}}
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    return root


def run_stage_script(name: str) -> None:
    old = sys.argv
    sys.argv = [f"stages/{name}.py"]
    try:
        runpy.run_path(str(ROOT / "stages" / f"{name}.py"), run_name="__main__")
    finally:
        sys.argv = old


def test_features_shape_and_batch_invariance(project, monkeypatch):
    from inbol.models import load_model

    monkeypatch.chdir(project)
    model, proc = load_model("models/idk_it", "cpu", "float32")
    recs = read_jsonl("data/restructured/pool.jsonl")[:5] + read_jsonl("data/unanswerable/kept.jsonl")[:2]
    feats = extract_features(model, proc, recs, batch_size=4, progress=False)
    assert feats.shape == (7, 32) and feats.dtype == torch.float32 and torch.isfinite(feats).all()
    # left padding + position ids from the mask: a question's feature does not depend on its batch
    alone = torch.cat([extract_features(model, proc, [r], batch_size=1, progress=False) for r in recs])
    assert torch.allclose(feats, alone, atol=1e-4)


def test_stage_end_to_end(project, monkeypatch):
    monkeypatch.chdir(project)
    run_stage_script("probe")
    m = read_json("metrics/probe.json")
    assert set(m["models"]) == {"idk_it", "ca_dpo"} and m["max_conf"] == 0.2
    assert m["train"]["available"] == {"intrinsic": 12, "extrinsic": 10}            # conf 0.0 and 0.2: 6 + 6
    assert m["train"]["used"] == {"intrinsic": 10, "extrinsic": 10}
    assert m["test"]["used"] == {"intrinsic": 8, "extrinsic": 8} and m["test"]["share_extrinsic"] == 0.5
    for name, r in m["models"].items():
        assert r["paper_accuracy"] == PAPER_ACCURACY[name] and r["feature_dim"] == 32
        for reading in ("mlp", "logreg", "shuffled"):
            assert 0 <= r[reading]["accuracy"] <= 100
        assert r["gap_to_paper"] == pytest.approx(r["mlp"]["accuracy"] - PAPER_ACCURACY[name], abs=0.01)
        assert set(r["mlp"]["by_group"]) == {"perception", "uavqa"}


def test_stage_too_few_fails_before_loading_models(project, monkeypatch, capsys, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for d in ("data",):                                     # no models/ at all: the count check comes first
        (bad / d).symlink_to(project / d)
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["probe"]["min_per_class"] = 11
    (bad / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(bad)
    with pytest.raises(SystemExit) as e:
        run_stage_script("probe")
    assert e.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == ("error: probe: too few train examples to train on: 12 intrinsic (answerable, conf <= 0.2) and "
                   "10 extrinsic (unanswerable); probe.min_per_class = 11")
    assert not (bad / "metrics").exists()
    params["probe"]["min_per_class"] = 4                     # enough examples, but no model folder
    (bad / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(SystemExit):
        run_stage_script("probe")
    assert capsys.readouterr().err.strip() == \
        "error: models/idk_it: no model folder for 'idk_it' (run the stage that trains it first)"

"""The linear probe (inbol.probe, stage `probe@<seed>`; paper appendix G.4, Table 7): example selection and
class balance, the too-few-examples error, the classifiers and the shuffled-label control, feature extraction
on a tiny LLaVA, and the stage end to end on a tiny project."""

from __future__ import annotations

import pytest
import torch

from helpers import ROOT, build_tiny_model, run_stage_script, section, write_params
from inbol.errors import DataError, ParamError
from inbol.evaluation import make_testset
from inbol.io import read_json, read_jsonl, write_json, write_jsonl
from inbol.models import PromptFormat, load_model
from inbol.probe import (
    PAPER_ACCURACY,
    eval_candidates,
    extract_features,
    probe_features,
    probe_text_only,
    select_examples,
    text_features,
    train_candidates,
)

pytestmark = pytest.mark.usefixtures("one_thread")

FAST = {"hidden_sizes": [32, 16], "epochs": 150, "lr": 0.01, "control_repeats": 2, "min_per_class": 2}
UA_QUESTION = "What is written on the back of the card?"


def cfg(**kw):
    return section("probe", **{**FAST, **kw})


# ------------------------------------------------------------------ config


@pytest.mark.parametrize(
    "key,value,msg",
    [
        ("max_conf", 1.0, "probe.max_conf = 1.0: must be in [0, 1)"),
        ("min_per_class", 0, "probe.min_per_class = 0: must be an integer >= 1"),
        ("train_per_class", 1, "probe.train_per_class = 1: must be >= probe.min_per_class (2) or null"),
        ("hidden_sizes", [8], "probe.hidden_sizes = [8]: must be two integers >= 1"),
        ("device", "tpu", "probe.device = 'tpu': must be one of auto, cpu, cuda, mps"),
        ("epochs", 0, "probe.epochs = 0: must be an integer >= 1"),
    ],
)
def test_config_errors_are_one_line(key, value, msg):
    with pytest.raises(ParamError) as e:
        cfg(**{key: value})
    assert str(e.value).startswith(msg) and "\n" not in str(e.value)


def test_params_yaml_holds_the_papers_settings():
    c = section("probe")
    assert c.max_conf == 0.2 and len(c.hidden_sizes) == 2 and c.train_per_class == 1000
    assert PAPER_ACCURACY == {"idk_it": 87.01, "ca_dpo": 80.83}


# ------------------------------------------------------------------ selection


def _vqa(i, conf, family="perception", origin="vqa"):
    return {
        "id": f"pool-{i}",
        "image": "img.png",
        "question": f"q{i}",
        "conf": conf,
        "kind": "open",
        "meta": {"family": family},
        "origin": origin,
    }


def _ua(i, method="template", prefix="ua"):
    return {
        "id": f"{prefix}-{i}",
        "image": "img.png",
        "question": UA_QUESTION,
        "kind": "unanswerable",
        "answers": [],
        "meta": {"method": method},
    }


def _testsets(n_unknown=6, n_known=4, n_ua=5):
    ans = [
        {
            "id": f"t-{i}",
            "image": "img.png",
            "question": f"t{i}",
            "kind": "open",
            "answers": ["x"],
            "conf_base": 0.0 if i < n_unknown else 0.9,
        }
        for i in range(n_unknown + n_known)
    ]
    return {
        "perception": make_testset("perception", ans),
        "uavqa": make_testset("uavqa", [_ua(i, prefix="uavqa") for i in range(n_ua)]),
        "ood_hard": make_testset("ood_hard", [{**a, "id": "o" + a["id"]} for a in ans]),
        "beyond": make_testset("beyond", [_ua(i, prefix="beyond") for i in range(n_ua)]),
    }


def test_candidates_follow_the_unknown_rule_and_origins():
    pool = [
        _vqa(0, 0.0),
        _vqa(1, 0.2),
        _vqa(2, 0.1 * 2),
        _vqa(3, 0.3),
        _vqa(4, 1.0),
        _vqa(5, 0.0, origin="unanswerable") | {"kind": "unanswerable", "meta": {"method": "swap"}},
    ]
    c = train_candidates(pool, [_ua(0), _ua(1, "swap")], 0.2)
    assert [e["id"] for e in c["intrinsic"]] == ["pool-0", "pool-1", "pool-2"]  # conf <= 0.2 (0.1*2 too)
    assert [e["id"] for e in c["extrinsic"]] == ["ua-0", "ua-1", "pool-5"]
    assert {e["label"] for e in c["intrinsic"]} == {0} and {e["label"] for e in c["extrinsic"]} == {1}
    t = eval_candidates(_testsets(), 0.2)
    assert len(t["intrinsic"]) == 6 and len(t["extrinsic"]) == 5  # in domain only
    assert {e["group"] for e in t["intrinsic"]} == {"perception"} and {e["group"] for e in t["extrinsic"]} == {"uavqa"}


def test_selection_is_balanced_seeded_and_counted():
    pool = [_vqa(i, 0.0, ("perception", "emblem")[i % 2]) for i in range(30)]
    kept = [_ua(i) for i in range(12)]
    c = cfg(train_per_class=10, min_per_class=3)
    data = select_examples(pool, kept, _testsets(), c, check_images=False)
    assert data.counts["train"]["available"] == {"intrinsic": 30, "extrinsic": 12}
    assert data.counts["train"]["used"] == {"intrinsic": 10, "extrinsic": 10}
    assert (
        data.counts["test"]["used"] == {"intrinsic": 5, "extrinsic": 5}
        and data.counts["test"]["share_extrinsic"] == 0.5
    )
    assert sum(data.counts["train"]["by_group"]["intrinsic"].values()) == 10
    again = select_examples(pool, kept, _testsets(), c, check_images=False)
    assert [e["id"] for e in again.train] == [e["id"] for e in data.train]


def test_too_few_examples_is_one_line_with_the_counts():
    pool = [_vqa(0, 0.0), _vqa(1, 0.0), _vqa(2, 0.1), _vqa(3, 0.9)]
    with pytest.raises(DataError) as e:
        select_examples(pool, [_ua(i) for i in range(40)], _testsets(), cfg(min_per_class=5), check_images=False)
    assert str(e.value) == (
        "probe: too few train examples to train on: 3 intrinsic (answerable, conf <= 0.2) and "
        "40 extrinsic (unanswerable); probe.min_per_class = 5"
    )
    pool = [_vqa(i, 0.0) for i in range(10)]
    with pytest.raises(DataError) as e:
        select_examples(pool, [_ua(i) for i in range(10)], _testsets(n_ua=2), cfg(min_per_class=5), check_images=False)
    assert str(e.value).startswith("probe: too few test examples to test on: 6 intrinsic") and "2 extrinsic" in str(
        e.value
    )


# ------------------------------------------------------------------ classifiers and the control


def _blobs(n, dim, shift, seed):
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, dim, generator=g) * 3.0 + 10.0  # off-centre, large scale: needs standardising
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
    assert 35 <= out["shuffled"]["accuracy"] <= 65  # permuted training labels: chance


def test_shuffled_control_near_chance_on_random_data():
    g = torch.Generator().manual_seed(3)
    x, xt = torch.randn(300, 24, generator=g), torch.randn(300, 24, generator=g)
    y, yt = torch.arange(300) % 2, torch.randperm(300, generator=g) % 2
    out = probe_features(x, y, xt, yt, cfg(control_repeats=3))
    for reading in (out["mlp"]["accuracy"], out["logreg"]["accuracy"], out["shuffled"]["accuracy"]):
        assert 38 <= reading <= 62
    assert len(out["shuffled"]["runs"]) == 3 and out["shuffled"]["chance"] == 50.0


def test_question_text_control_reads_the_wording_only():
    train = [{"question": "What colour is the cube?", "label": 0}, {"question": "Who signed the cube?", "label": 1}]
    test = [{"question": "Who painted the ball?", "label": 1}]
    x, xt = text_features(train, test)
    vocab = ["colour", "cube", "is", "signed", "the", "what", "who"]  # the training questions' words, sorted
    assert x.tolist() == [[1, 1, 1, 0, 1, 1, 0], [0, 1, 0, 1, 1, 0, 1]] and x.shape[1] == len(vocab)
    assert xt.tolist() == [[0, 0, 0, 0, 1, 0, 1]]  # unseen words (painted, ball) are dropped
    # wording that gives the class away: the text-only control separates it, so a hidden-state probe
    # reaching the same accuracy proves nothing beyond wording
    from inbol.probe import ProbeData

    mk = [{"question": f"What is the colour of object {i}?", "label": 0, "group": "p"} for i in range(20)]
    ua = [{"question": f"What is written on card {i}?", "label": 1, "group": "u"} for i in range(20)]
    data = ProbeData(train=mk[:14] + ua[:14], test=mk[14:] + ua[14:], counts={})
    out = probe_text_only(data, cfg())
    assert out["feature"] == "bag of words of the question text" and out["logreg"]["accuracy"] == 100.0


def test_single_training_class_is_an_error():
    with pytest.raises(DataError, match="single class"):
        probe_features(torch.randn(4, 3), torch.zeros(4, dtype=torch.long), torch.randn(2, 3), torch.zeros(2), cfg())


# ------------------------------------------------------------------ a tiny model and the stage

PROBE = {**FAST, "min_per_class": 4, "batch_size": 5, "device": "cpu", "dtype": "float32"}


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_world, tiny_model):
    """A tiny project: the shared tiny world (24 pool, 18 test questions) linked in as data/world, the
    restructured pool, kept unanswerable questions and two in-domain test sets; the untrained tiny model as
    idk_it and another seed of it as models/ca_dpo."""
    root = tmp_path_factory.mktemp("probeproj")
    (root / "data").mkdir()
    (root / "data" / "world").symlink_to(tiny_world["dir"], target_is_directory=True)
    (root / "stages").symlink_to(ROOT / "stages", target_is_directory=True)
    pool, test = read_jsonl(tiny_world["dir"] / "pool.jsonl"), read_jsonl(tiny_world["dir"] / "test.jsonl")
    assert len(pool) == 24 and len(test) >= 16
    write_jsonl(
        root / "data/restructured/pool.jsonl",
        [{**r, "conf": (0.0, 0.2, 0.5, 1.0)[i % 4], "origin": "vqa"} for i, r in enumerate(pool)],
    )
    write_jsonl(
        root / "data/unanswerable/kept.jsonl",
        [
            {
                **r,
                "id": f"ua-{r['id']}",
                "question": UA_QUESTION,
                "answers": [],
                "kind": "unanswerable",
                "conf": 0.0,
                "meta": {"method": "template"},
            }
            for r in pool[:10]
        ],
    )
    perception = [{**r, "conf_base": (0.0, 0.75)[i % 2]} for i, r in enumerate(test[:16])]
    uavqa = [
        {**r, "id": f"uavqa-{i}", "question": UA_QUESTION, "answers": [], "kind": "unanswerable", "conf_base": None}
        for i, r in enumerate(test[-8:])
    ]
    write_jsonl(root / "data/testsets/perception.jsonl", perception)
    write_jsonl(root / "data/testsets/uavqa.jsonl", uavqa)
    write_json(
        root / "data/testsets/manifest.json",
        {
            "sets": {
                "perception": {"group": "in_domain", "answerable": True, "paper": "VQAv2"},
                "uavqa": {"group": "in_domain", "answerable": False, "paper": "UaVQA"},
            }
        },
    )
    model, proc = build_tiny_model(tiny_world["dir"], seed=1)
    model.save_pretrained(root / "models/ca_dpo")
    proc.save_pretrained(root / "models/ca_dpo")
    write_params(root, probe=PROBE)
    return {"root": root, "idk_it": tiny_model["dir"]}


def probe_stage(repo, *models: str, metrics: str = "metrics/probe/s0.json"):
    args = [
        "--pool",
        "data/restructured/pool.jsonl",
        "--unanswerable",
        "data/unanswerable/kept.jsonl",
        "--testsets",
        "data/testsets",
        "--metrics",
        metrics,
    ]
    for m in models:
        args += ["--model", m]
    return run_stage_script(repo, "probe.py", *args)


def test_features_shape_and_batch_invariance(project, monkeypatch):
    monkeypatch.chdir(project["root"])
    model, proc = load_model(project["idk_it"], "cpu", "float32")
    fmt = PromptFormat(proc)
    recs = read_jsonl("data/restructured/pool.jsonl")[:5] + read_jsonl("data/unanswerable/kept.jsonl")[:2]
    feats = extract_features(model, fmt, recs, batch_size=4, progress=False)
    assert feats.shape == (7, 32) and feats.dtype == torch.float32 and torch.isfinite(feats).all()
    # left padding + position ids from the mask: a question's feature does not depend on its batch
    alone = torch.cat([extract_features(model, fmt, [r], batch_size=1, progress=False) for r in recs])
    assert torch.allclose(feats, alone, atol=1e-4)
    # the prompt comes from the format: a system sentence changes the last prompt token's state
    system = extract_features(model, PromptFormat(proc, "Answer only if you know."), recs, batch_size=4, progress=False)
    assert system.shape == feats.shape and not torch.allclose(system, feats, atol=1e-4)


@pytest.mark.e2e
def test_stage_end_to_end(project):
    root = project["root"]
    proc = probe_stage(root, f"idk_it={project['idk_it']}", "ca_dpo=models/ca_dpo")
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = read_json(root / "metrics/probe/s0.json")
    assert set(m["models"]) == {"idk_it", "ca_dpo"} and m["max_conf"] == 0.2
    text = m["controls"]["question_text"]
    assert 0 <= text["logreg"]["accuracy"] <= 100 and set(text["mlp"]["by_group"]) == {"perception", "uavqa"}
    assert m["models"]["idk_it"]["model_path"] == str(project["idk_it"])
    assert m["models"]["ca_dpo"]["model_path"] == "models/ca_dpo"
    assert m["train"]["available"] == {"intrinsic": 12, "extrinsic": 10}  # conf 0.0 and 0.2: 6 + 6
    assert m["train"]["used"] == {"intrinsic": 10, "extrinsic": 10}
    assert m["test"]["used"] == {"intrinsic": 8, "extrinsic": 8} and m["test"]["share_extrinsic"] == 0.5
    for name, r in m["models"].items():
        assert r["paper_accuracy"] == PAPER_ACCURACY[name] and r["feature_dim"] == 32
        for reading in ("mlp", "logreg", "shuffled"):
            assert 0 <= r[reading]["accuracy"] <= 100
        assert r["gap_to_paper"] == pytest.approx(r["mlp"]["accuracy"] - PAPER_ACCURACY[name], abs=0.01)
        assert set(r["mlp"]["by_group"]) == {"perception", "uavqa"}


@pytest.mark.e2e
def test_stage_too_few_fails_before_loading_models(project, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for d in ("data", "stages"):  # no models/ at all: the count check comes first
        (bad / d).symlink_to(project["root"] / d, target_is_directory=True)
    write_params(bad, probe={**PROBE, "min_per_class": 11})
    models = ("idk_it=models/idk_it", "ca_dpo=models/ca_dpo")
    proc = probe_stage(bad, *models)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "error: probe: too few train examples to train on: 12 intrinsic (answerable, conf <= 0.2) and "
        "10 extrinsic (unanswerable); probe.min_per_class = 11"
    )
    assert not (bad / "metrics").exists()
    write_params(bad, probe=PROBE)  # enough examples, but no model folder
    proc = probe_stage(bad, *models)
    assert proc.returncode == 2
    assert (
        proc.stderr.strip().splitlines()[-1]
        == "error: models/idk_it: no model folder for 'idk_it' (run the stage that trains it first)"
    )
    assert not (bad / "metrics").exists()

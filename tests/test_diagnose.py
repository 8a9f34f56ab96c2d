"""The validation-only diagnostics (inbol.diagnose, stage `diagnose`): the Known buckets and the constructed
data's counts by hand, the small-sample rules (n/a and a warning, never a crash), the probe of the original's
errors, the teacher-forced log-probability of the gold answer on a tiny LLaVA, and the whole diagnosis with
stand-in answer functions."""

from __future__ import annotations

import copy
import math
import shutil

import numpy as np
import pytest
import torch

from helpers import ROOT, run_stage_script, section, write_params
from inbol.diagnose import (
    BUCKETS,
    Notes,
    answer_logprobs,
    answer_text,
    auroc_cis,
    construction_counts,
    diagnose,
    known_buckets,
    lost_answers,
    markdown,
    mean_ci,
    probe_errors,
    sample,
)
from inbol.errors import DataError, ParamError
from inbol.evaluation import make_testset
from inbol.io import read_json, read_jsonl, write_json, write_jsonl
from inbol.models import PromptFormat

pytestmark = pytest.mark.usefixtures("one_thread")


def cfg(**kw):
    return section("diagnose", **{"n_boot": 200, "min_n": 3, "cv_folds": 2, **kw})


def _q(qid, conf, origin="vqa", answers=("red",)):
    return {
        "id": qid,
        "image": "img.png",
        "question": f"q {qid}",
        "answers": list(answers),
        "kind": "open",
        "conf": conf,
        "origin": origin,
    }


POOL = [
    _q("p0", 1.0),
    _q("p1", 0.8),  # Known at the threshold
    _q("p2", 0.9),
    _q("p3", 0.7),  # Mixed
    _q("p4", 0.1),  # Unknown
    _q("p5", 1.0),
    _q("p6", 0.8),
]
IDK_IT = [
    {"id": "p0", "bucket": "known", "origin": "vqa"},
    {"id": "p1", "bucket": "known", "origin": "vqa"},
    {"id": "p4", "bucket": "unknown", "origin": "vqa"},
    {"id": "ua-1", "bucket": "unknown", "origin": "unanswerable"},
    {"id": "ua-2", "bucket": "unknown", "origin": "unanswerable"},
]
PREFERENCE = [
    {"id": "p1", "bucket": "known", "origin": "vqa"},
    {"id": "p2", "bucket": "known", "origin": "vqa"},
    {"id": "p3", "bucket": "mixed", "origin": "vqa"},
    {"id": "ua-3", "bucket": "unknown", "origin": "unanswerable"},
]


def _valsets():
    val = [
        {"id": f"v{i}", "image": "img.png", "question": f"v {i}", "answers": ["blue"], "kind": "open", "conf_base": c}
        for i, c in enumerate((1.0, 0.8, 0.79, 0.0, None))
    ]
    ua = [{"id": "u0", "image": "img.png", "question": "u", "answers": [], "kind": "unanswerable", "conf_base": 1.0}]
    ood = [{**val[0], "id": "o0"}]
    return {
        "perception": make_testset("perception", val, "in_domain", True, "VQAv2"),
        "uavqa": make_testset("uavqa", ua, "in_domain", False, "UaVQA"),
        "ood_hard": make_testset("ood_hard", ood, "ood", True, "x"),
    }


# ------------------------------------------------------------------ buckets and counts, by hand


def test_bucket_split_by_hand():
    b = known_buckets(POOL, IDK_IT, PREFERENCE, _valsets(), 0.8)
    assert set(b) == set(BUCKETS)
    assert [r["id"] for r in b["idk_it_train"]] == ["p0", "p1"]
    assert [r["id"] for r in b["ca_dpo_train"]] == ["p1", "p2"]
    # Known (conf >= 0.8) and in neither training file: p5, p6 (p3 is Mixed, p4 Unknown)
    assert [r["id"] for r in b["pool_unseen"]] == ["p5", "p6"]
    # in-domain answerable with conf_base >= 0.8: v0, v1 (not 0.79, not None, not UaVQA, not out of domain)
    assert [(r["id"], r["set"]) for r in b["val_known"]] == [("v0", "perception"), ("v1", "perception")]


def test_a_training_question_missing_from_the_pool_is_one_line():
    with pytest.raises(DataError, match=r"idk_it's training set are not in the pool, e\.g\. 'p9'"):
        known_buckets(POOL, IDK_IT + [{"id": "p9", "bucket": "known"}], PREFERENCE, _valsets(), 0.8)


def test_construction_counts_by_hand():
    c = construction_counts(POOL, IDK_IT, PREFERENCE, 0.8)
    assert c["pool_known"] == 5  # p0 p1 p2 p5 p6
    assert (c["idk_it_known"], c["ca_dpo_known"], c["ca_dpo_known_in_idk_it"]) == (2, 2, 1)
    assert c["share_ca_dpo_known_in_idk_it"] == 0.5 and c["share_expected_if_independent"] == 0.4
    assert (c["idk_it_refusals"], c["idk_it_refusals_intrinsic"], c["idk_it_refusals_extrinsic"]) == (3, 1, 2)
    assert c["share_refusals_extrinsic"] == round(2 / 3, 4)


def test_preference_pairs_count_their_question_once():
    pairs = [{"id": "p1/p1", "qid": "p1", "bucket": "known"}, {"id": "p1/p2", "qid": "p1", "bucket": "known"}]
    c = construction_counts(POOL, IDK_IT, pairs, 0.8)
    assert c["ca_dpo_known"] == 1 and c["ca_dpo_known_in_idk_it"] == 1


def test_sample_is_capped_seeded_and_keeps_order():
    recs = [{"id": i} for i in range(50)]
    a, b = sample(recs, 10, 0, 1), sample(recs, 10, 0, 1)
    assert a == b and len(a) == 10 and [r["id"] for r in a] == sorted(r["id"] for r in a)
    assert sample(recs, 10, 0, 2) != a and sample(recs, 10, 1, 1) != a
    assert sample(recs, 60, 0, 1) == recs


def test_lost_answers_by_hand():
    orig = ["correct", "correct", "correct", "incorrect", "correct"]
    trained = ["correct", "refusal", "incorrect", "refusal", "refusal"]
    assert lost_answers(orig, trained) == {
        "original_right": 4,
        "lost": 3,
        "lost_to_refusal": 2,
        "lost_to_wrong_answer": 1,
        "share_lost_to_refusal": round(2 / 3, 4),
    }


# ------------------------------------------------------------------ small samples: n/a and a warning


def test_too_few_questions_give_na_and_a_warning_naming_the_set():
    notes = Notes()
    r = mean_ci([1, 0], n_boot=50, seed=0, min_n=3, where="val_known (seed 0), idk_it: refusal rate", notes=notes)
    assert r == {"n": 2, "mean": None, "ci": None}
    assert notes.lines == ["val_known (seed 0), idk_it: refusal rate: n/a, 2 questions < diagnose.min_n = 3"]
    r = mean_ci([1, 0, 0, 1], n_boot=200, seed=0, min_n=3, where="x", notes=notes)
    assert r["mean"] == 0.5 and 0.0 <= r["ci"][0] <= 0.5 <= r["ci"][1] <= 1.0


def test_auroc_with_one_class_is_na_not_a_crash():
    notes = Notes()
    r = auroc_cis(
        {"probe": [0.1, 0.2, 0.3], "confidence": [0.3, 0.2, 0.1]},
        [False] * 3,
        n_boot=20,
        seed=0,
        min_n=1,
        where="probe (validation)",
        notes=notes,
    )
    assert r["probe"] is None and r["confidence"] is None and r["difference"] is None
    assert notes.lines and notes.lines[0].startswith("probe (validation): AUROC n/a, 0 positive and 3 negative")


def test_probe_with_one_training_class_is_na_with_a_warning():
    rng = np.random.default_rng(0)
    notes = Notes()
    x, xv = rng.normal(size=(40, 5)), rng.normal(size=(40, 5))
    yv = [i % 2 == 0 for i in range(40)]
    r = probe_errors(x, [False] * 40, xv, yv, [0.0 if w else 1.0 for w in yv], cfg(), notes)
    assert r["probe"] is None and r["c"] is None and r["train"]["wrong"] == 0
    assert r["confidence"]["auroc"] == 1.0  # the confidence reading needs no training
    assert any(w.startswith("probe (pool training questions): n/a, 0 wrong and 40 right") for w in notes.lines)


def test_probe_reads_a_linearly_separable_error_signal():
    rng = np.random.default_rng(1)
    y, yv = rng.random(120) < 0.4, rng.random(80) < 0.4
    x = rng.normal(size=(120, 6)) + 3.0 * y[:, None] * np.eye(6)[0]
    xv = rng.normal(size=(80, 6)) + 3.0 * yv[:, None] * np.eye(6)[0]
    notes = Notes()
    r = probe_errors(x, y, xv, yv, rng.random(80), cfg(probe_c=[0.01, 1.0], cv_folds=3), notes)
    assert r["c"] in (0.01, 1.0) and r["cv_folds"] == 3 and r["probe"]["auroc"] > 0.9 and r["cv_auroc"] > 0.9
    assert 0.3 < r["confidence"]["auroc"] < 0.7  # a random score
    lo, hi = r["difference"]["ci"]
    assert lo <= r["difference"]["value"] <= hi and lo > 0
    assert not notes.lines


@pytest.mark.parametrize(
    "key,value,msg",
    [
        ("max_per_bucket", 0, "diagnose.max_per_bucket = 0: must be an integer >= 1"),
        ("cv_folds", 1, "diagnose.cv_folds = 1: must be an integer in [2, 20]"),
        ("probe_c", [0.0], "diagnose.probe_c[0] = 0.0: must be > 0"),
    ],
)
def test_config_errors_are_one_line(key, value, msg):
    with pytest.raises(ParamError) as e:
        cfg(**{key: value})
    assert str(e.value).startswith(msg) and "\n" not in str(e.value)


# ------------------------------------------------------------------ teacher-forced log-probability


@pytest.fixture(scope="module")
def val_records(tiny_world):
    recs = read_jsonl(tiny_world["dir"] / "val.jsonl")
    return [r for r in recs if r.get("answers")][:5]


def test_logprob_of_a_uniform_model_by_hand(tiny_world, tiny_model, val_records, monkeypatch):
    """lm_head = 0: every next-token distribution is uniform over the V logits, so log P(answer) is
    -n log V for an answer of n tokens."""
    monkeypatch.chdir(tiny_world["root"])
    model = copy.deepcopy(tiny_model["model"])
    with torch.no_grad():
        model.lm_head.weight.zero_()
    fmt = PromptFormat(tiny_model["processor"])
    tok = fmt.processor.tokenizer
    golds = [r["answers"][0] for r in val_records]
    got = answer_logprobs(model, fmt, val_records, golds, batch_size=2)
    vocab = model.lm_head.weight.shape[0]
    for (total, n), r, g in zip(got, val_records, golds):
        assert n == len(tok(answer_text(fmt, r["question"], g), add_special_tokens=False)["input_ids"]) >= 1
        assert total == pytest.approx(-n * math.log(vocab), rel=1e-5)


def test_logprob_equals_the_step_by_step_product(tiny_world, tiny_model, val_records, monkeypatch):
    """The batched, right-padded pass gives, per question, the sum over the answer tokens of log P(token |
    prompt + the answer tokens before it), each step computed on its own unpadded sequence."""
    from inbol.models.generate import open_images

    monkeypatch.chdir(tiny_world["root"])
    model, proc = tiny_model["model"], tiny_model["processor"]
    fmt = PromptFormat(proc)
    golds = [r["answers"][0] for r in val_records]
    got = answer_logprobs(model, fmt, val_records, golds, batch_size=3)
    tok = proc.tokenizer
    with torch.no_grad():
        for (total, n), r, g in zip(got, val_records, golds):
            enc = proc(images=open_images([r["image"]]), text=[fmt.prompt(r["question"])], return_tensors="pt")
            ans = tok(answer_text(fmt, r["question"], g), add_special_tokens=False)["input_ids"]
            want = 0.0
            for j, t in enumerate(ans):
                ids = torch.cat([enc["input_ids"], torch.tensor([ans[:j]], dtype=torch.long)], dim=1)
                logits = model(
                    input_ids=ids, pixel_values=enc["pixel_values"], attention_mask=torch.ones_like(ids)
                ).logits
                want += torch.log_softmax(logits[0, -1].float(), -1)[t].item()
            assert n == len(ans) and total == pytest.approx(want, abs=1e-4)


# ------------------------------------------------------------------ the whole diagnosis, stand-in answers


def test_diagnose_with_stand_in_answers(tiny_world, tiny_model, monkeypatch):
    monkeypatch.chdir(tiny_world["root"])
    pool = [
        {**r, "origin": "vqa", "conf": (1.0, 0.9, 0.0)[i % 3]}
        for i, r in enumerate(read_jsonl(tiny_world["dir"] / "pool.jsonl"))
    ]
    known = [r["id"] for r in pool if r["conf"] >= 0.8]
    idk = [{"id": i, "bucket": "known", "origin": "vqa"} for i in known[:4]] + [
        {"id": pool[2]["id"], "bucket": "unknown", "origin": "vqa"}
    ]
    pref = [{"id": i, "bucket": "known", "origin": "vqa"} for i in known[2:6]]
    val = [{**r, "conf_base": 1.0} for r in read_jsonl(tiny_world["dir"] / "val.jsonl") if r.get("answers")]
    valsets = {"perception": make_testset("perception", val, "in_domain", True, "VQAv2")}

    def answer(name, seed):  # the original answers every question right; IDK-IT refuses all; CA-DPO says "zzz"
        def fn(records, desc):
            if name == "base":
                return [r["answers"][0] for r in records]
            return ["Sorry, I can not help with it." if name == "idk_it" else "zzz" for _ in records]

        return fn

    fmt = PromptFormat(tiny_model["processor"])
    m = diagnose(
        pool=pool,
        constructed={0: (idk, pref)},
        valsets=valsets,
        delta_k=0.8,
        cfg=cfg(min_n=3, probe_train=10),
        answer=answer,
        inproc=lambda name, seed: (tiny_model["model"], fmt),
        batch_size=4,
        progress=False,
    )
    r = m["refusal"]["s0"]
    assert r["idk_it"]["idk_it_train"]["refusal_rate"] == 1.0 and r["idk_it"]["val_known"]["refusal_rate"] == 1.0
    assert r["base"]["pool_unseen"]["accuracy"] == 1.0 and r["ca_dpo"]["val_known"]["accuracy"] == 0.0
    assert m["sizes"]["s0"]["idk_it_train"] == {"available": 4, "used": 4}
    fam = r["idk_it"]["val_known"]["by_family"]
    assert set(fam) == {x["meta"]["family"] for x in val} and sum(f["n"] for f in fam.values()) == len(val)
    assert all(f["refusal_rate"] in (1.0, None) for f in fam.values())
    n_val = len(val)
    assert m["lost"]["s0"]["idk_it"] == {
        "original_right": n_val,
        "lost": n_val,
        "lost_to_refusal": n_val,
        "lost_to_wrong_answer": 0,
        "share_lost_to_refusal": 1.0,
    }
    assert m["lost"]["s0"]["ca_dpo"]["lost_to_wrong_answer"] == n_val
    # the same model before and after: no difference in log P(gold)
    assert m["logprob"]["s0"]["idk_it"]["difference_to_original"]["mean"] == pytest.approx(0.0, abs=1e-6)
    # the original is never wrong: its probe has one class, n/a with a warning, and the stage goes on
    assert m["probe"]["probe"] is None and any(
        w.startswith("probe (pool training questions): n/a") for w in m["warnings"]
    )
    assert m["construction"]["s0"]["idk_it_refusals_intrinsic"] == 1
    md = markdown(m)
    assert md.startswith("## Diagnostics (validation only)") and "| n/a |" in md  # the probe's cell


def test_probe_with_a_single_question_of_a_class_is_na_even_with_min_n_1():
    rng = np.random.default_rng(2)
    notes = Notes()
    y = [i == 0 for i in range(30)]  # one wrong answer: no cross-validation can split it
    r = probe_errors(
        rng.normal(size=(30, 4)), y, rng.normal(size=(10, 4)), [True, False] * 5, [0.5] * 10, cfg(min_n=1), notes
    )
    assert r["probe"] is None and any("1 wrong and 29 right" in w for w in notes.lines)


# ------------------------------------------------------------------ the stage on a tiny project


@pytest.fixture(scope="module")
def project(tmp_path_factory, tiny_world, tiny_model):
    """The tiny world linked in as data/world; its pool as the restructured pool (conf cycling 1.0, 0.9, 0.0);
    seed 0's IDK-IT and preference sets; one in-domain validation set and UaVQA; the untrained tiny model as the
    original, IDK-IT and CA-DPO."""
    root = tmp_path_factory.mktemp("diagproj")
    (root / "data").mkdir()
    (root / "data" / "world").symlink_to(tiny_world["dir"], target_is_directory=True)
    (root / "stages").symlink_to(ROOT / "stages", target_is_directory=True)
    pool = [
        {**r, "origin": "vqa", "conf": (1.0, 0.9, 0.0)[i % 3]}
        for i, r in enumerate(read_jsonl(tiny_world["dir"] / "pool.jsonl"))
    ]
    write_jsonl(root / "data/restructured/pool.jsonl", pool)
    known = [r for r in pool if r["conf"] >= 0.8]

    def inst(r, bucket):
        return {
            "id": r["id"],
            "image": r["image"],
            "prompt": r["question"],
            "completion": r["answers"][0],
            "bucket": bucket,
            "origin": "vqa",
        }

    def pref(r):
        pair = {"chosen": r["answers"][0], "rejected": "Sorry, I can not help with it."}
        return {
            "id": r["id"],
            "image": r["image"],
            "prompt": r["question"],
            "p1": pair,
            "p2": pair,
            "conf": r["conf"],
            "bucket": "known",
            "origin": "vqa",
        }

    write_jsonl(
        root / "data/constructed/s0/idk_it.jsonl", [inst(r, "known") for r in known[:6]] + [inst(pool[2], "unknown")]
    )
    write_jsonl(root / "data/constructed/s0/preference.jsonl", [pref(r) for r in known[4:10]])
    val = [
        {**r, "conf_base": (1.0, 0.0)[i % 2]} for i, r in enumerate(read_jsonl(tiny_world["dir"] / "test.jsonl")[:16])
    ]
    ua = [
        {
            **r,
            "id": f"uavqa-{i}",
            "question": "What is written on the card?",
            "answers": [],
            "kind": "unanswerable",
            "conf_base": None,
        }
        for i, r in enumerate(val[:4])
    ]
    write_jsonl(root / "data/valsets/perception.jsonl", val)
    write_jsonl(root / "data/valsets/uavqa.jsonl", ua)
    write_json(
        root / "data/valsets/manifest.json",
        {
            "sets": {
                "perception": {"group": "in_domain", "answerable": True, "paper": "VQAv2"},
                "uavqa": {"group": "in_domain", "answerable": False, "paper": "UaVQA"},
            }
        },
    )
    (root / "models").mkdir()
    (root / "models/base").symlink_to(tiny_model["dir"], target_is_directory=True)
    for m in ("idk_it", "ca_dpo"):
        (root / "models" / m).mkdir()
        (root / "models" / m / "s0").symlink_to(tiny_model["dir"], target_is_directory=True)
    write_params(
        root,
        seeds=[0],
        diagnose={"min_n": 3, "n_boot": 100, "cv_folds": 2, "probe_train": 20, "max_per_bucket": 5},
        evaluate={"device": "cpu", "dtype": "float32", "batch_size": 8},
    )
    return root


DIAG_ARGS = [
    "--pool",
    "data/restructured/pool.jsonl",
    "--constructed",
    "data/constructed",
    "--valsets",
    "data/valsets",
    "--base",
    "models/base",
    "--models",
    "models",
    "--metrics",
    "metrics/diagnose.json",
    "--markdown",
    "metrics/diagnose.md",
]


@pytest.mark.e2e
def test_stage_end_to_end_on_a_tiny_project(project):
    proc = run_stage_script(project, "diagnose.py", *DIAG_ARGS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    m = read_json(project / "metrics/diagnose.json")
    assert m["seeds"] == [0] and m["sizes"]["s0"]["idk_it_train"] == {"available": 6, "used": 5}
    assert m["sizes"]["s0"]["val_known"] == {"available": 8, "used": 5}
    assert set(m["refusal"]["s0"]) == {"base", "idk_it", "ca_dpo"}
    # the same weights under three names: the same answers, no log-probability lost
    assert m["refusal"]["s0"]["idk_it"] == m["refusal"]["s0"]["ca_dpo"]
    assert m["logprob"]["s0"]["idk_it"]["difference_to_original"]["mean"] == pytest.approx(0.0, abs=1e-6)
    assert m["construction"]["s0"]["ca_dpo_known_in_idk_it"] == 2
    assert (project / "metrics/diagnose.md").read_text().startswith("## Diagnostics (validation only)")


@pytest.mark.e2e
def test_a_missing_training_set_fails_in_one_line_before_any_model_loads(project, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    for d in ("stages", "models"):
        (bad / d).symlink_to(project / d, target_is_directory=True)
    shutil.copytree(project / "data", bad / "data", symlinks=True)
    shutil.copy(project / "params.yaml", bad / "params.yaml")
    (bad / "data/constructed/s0/preference.jsonl").unlink()
    (bad / "metrics").mkdir()
    (bad / "metrics/diagnose.json").write_text("{}\n")
    proc = run_stage_script(bad, "diagnose.py", *DIAG_ARGS)
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr[-2000:]
    assert proc.stderr.startswith("error: ") and "preference.jsonl" in proc.stderr
    assert (bad / "metrics/diagnose.json").read_text() == "{}\n"  # what was there is kept

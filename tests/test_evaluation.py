"""Evaluation: the metric math, the paper's tables recomputed, test-set balancing, scoring one model over
several runs (seeds), evaluating a tiny model through the stage scripts, coverage errors, and the report
(from the predictions) with its figure CSVs."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from helpers import (
    build_tiny_model,
    params,
    params_dict,
    run_stage_in_process,
    section,
    stage_args,
    world_cfg,
    write_params,
)
from inbol.errors import DataError, ParamError
from inbol.evaluation import (
    REFUSAL_SUFFIX,
    by_conf_bin,
    by_exposure,
    check_coverage,
    conf_bin,
    counts_from_percent,
    judge_sets,
    load_testsets,
    macro_average,
    make_testset,
    paper,
    pool,
    prompt_suffix,
    score,
    score_runs,
    select_balanced,
    set_metrics,
    spearman,
    tables,
    tilted_quotas,
    trust_metrics,
)
from inbol.evaluation.metrics import EXPOSURE_BUCKETS, exposure_bucket
from inbol.evaluation.report import (
    EXPOSURE_LONG_FIELDS,
    FIG4_LONG_FIELDS,
    FIG4_MODELS,
    FIG4_WIDE_FIELDS,
    PLOT_FILES,
    load_runs,
    render_tables,
    run_files,
    score_models,
    write_report,
)
from inbol.evaluation.stats import values
from inbol.evaluation.testsets import build_testsets, gap_to_target
from inbol.io import read_json, read_jsonl, write_jsonl
from inbol.judge import REFUSAL_PROMPT, SemanticJudge
from inbol.methods.registry import registry
from inbol.methods.spec import names as method_names
from inbol.params import Params, validate

MODELS = params().models.reported()  # every row of the report: the baselines, the reference rows, the trained models


# ------------------------------------------------------------------ metric math (hand-computed)


def test_trust_metrics_hand_computed():
    m = trust_metrics(3, 1, 10)
    assert (m["acc"], m["refr"], m["n_incorrect"]) == (30.0, 10.0, 6)
    assert m["s_trust"] == pytest.approx(-30.0)  # 2*30 + 10 - 100 = 30 - 60
    assert m["s_trust"] == pytest.approx(m["acc"] - (100 - m["acc"] - m["refr"]))
    assert m["answered_acc"] == pytest.approx(100 * 3 / 9)
    assert trust_metrics(10, 0, 10)["s_trust"] == 100.0 and trust_metrics(0, 0, 4)["s_trust"] == -100.0
    all_refused = trust_metrics(0, 5, 5)
    assert all_refused["s_trust"] == 0.0 and all_refused["answered_acc"] is None and all_refused["refr"] == 100.0


@pytest.mark.parametrize("args", [(1, 1, 0), (3, 2, 4), (-1, 0, 3), (1.5, 0, 3)])
def test_trust_metrics_rejects_impossible_counts(args):
    with pytest.raises(ValueError):
        trust_metrics(*args)


def test_pool_sums_counts_and_unanswerable_sets_never_score():
    a = {"n": 4, "n_correct": 2, "n_refusal": 1}
    b = {"n": 6, "n_correct": 3, "n_refusal": 0, "answerable": True}
    u = {"n": 2, "n_correct": 0, "n_refusal": 1, "answerable": False}
    m = pool([a, b, u])
    assert (m["n"], m["n_correct"], m["n_refusal"], m["n_incorrect"]) == (12, 5, 2, 5)
    assert m["acc"] == pytest.approx(500 / 12) and m["refr"] == pytest.approx(200 / 12)
    assert m["s_trust"] == pytest.approx(0.0) and m["answered_acc"] == pytest.approx(50.0)
    # pooled, not averaged: the mean of the three set accuracies would be (50 + 50 + 0) / 3
    assert m["acc"] != pytest.approx(100 / 3)
    with pytest.raises(ValueError, match="unanswerable"):
        pool([a, {**u, "n_correct": 1}])
    with pytest.raises(ValueError, match="unanswerable"):
        set_metrics(["correct", "refusal"], answerable=False)
    ua = set_metrics(["refusal", "incorrect", "incorrect", "refusal"], answerable=False)
    assert ua["acc"] == 0.0 and ua["refr"] == 50.0 and ua["s_trust"] == -50.0


def test_macro_average_is_unweighted():
    sets = [trust_metrics(1, 0, 2), trust_metrics(9, 1, 10)]  # acc 50 / 90, refr 0 / 10
    m = macro_average(sets)
    assert m["acc"] == pytest.approx(70.0) and m["refr"] == pytest.approx(5.0)
    assert m["s_trust"] == pytest.approx((0.0 + 90.0) / 2) and m["answered_acc"] == pytest.approx((50 + 100) / 2)


def _recompute_table1(row: dict) -> dict:
    nc = nr = 0
    for s in ("vqav2", "oven", "sqa", "uavqa"):
        c, r = counts_from_percent(row[s]["acc"], row[s]["refr"], paper.TABLE1_SIZES[s])
        nc, nr = nc + c, nr + r
    return trust_metrics(nc, nr, sum(paper.TABLE1_SIZES.values()))


@pytest.mark.parametrize("key", list(paper.TABLE1))
def test_paper_table1_overall_recomputed_from_its_sets(key):
    row = paper.TABLE1[key]
    got = _recompute_table1(row)
    ok = all(abs(got[k] - row["overall"][k]) <= 0.01 + 1e-9 for k in ("acc", "refr", "s_trust"))
    # every row agrees to 0.01 except the ones the extracted paper text itself gets wrong (documented)
    assert ok == (key not in paper.TABLE1_INCONSISTENT["overall"]), (key, got, row["overall"])
    for s in ("vqav2", "oven", "sqa"):
        c, r = counts_from_percent(row[s]["acc"], row[s]["refr"], 300)
        consistent = abs(trust_metrics(c, r, 300)["s_trust"] - row[s]["s_trust"]) <= 0.01 + 1e-9
        assert consistent == ((key, s) not in paper.TABLE1_INCONSISTENT["s_trust"]), (key, s)


def test_paper_llava_7b_overall_example():
    got = _recompute_table1(paper.TABLE1[("7B", "Original")])
    assert (round(got["acc"], 2), round(got["refr"], 2), round(got["s_trust"], 2)) == (46.10, 1.30, -6.50)
    assert all(k[0] == "13B" for k in paper.TABLE1_INCONSISTENT["overall"])


@pytest.mark.parametrize("base", ["7B", "13B"])
def test_paper_table4_ca_dpo_is_table1_overall_and_table2_macro_average(base):
    t4 = paper.TABLE4[(base, "CA-DPO (3)")]
    assert t4["in_domain"] == paper.TABLE1[(base, "+CA-DPO")]["overall"]
    t2 = paper.TABLE2[(base, "+CA-DPO")]
    avg = macro_average([t2[s] | {"answered_acc": None} for s in ("aokvqa", "gqa", "mmmu", "mmbench")])
    for k in ("acc", "refr", "s_trust"):
        assert abs(avg[k] - t4["ood"][k]) <= 0.01 + 1e-9, (k, avg[k], t4["ood"][k])


def test_confidence_bins_and_exposure_buckets():
    assert [conf_bin(c / 10) for c in range(11)] == [0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    with pytest.raises(ValueError):
        conf_bin(1.5)
    rows = by_conf_bin([0.0, 0.1, 0.5, 0.9, None], ["refusal", "incorrect", "correct", "correct", "refusal"])
    assert [r["n"] for r in rows] == [2, 0, 1, 0, 1] and rows[0]["bin"] == "[0,0.2]" and rows[1]["bin"] == "(0.2,0.4]"
    assert rows[0]["refusal_rate"] == 50.0 and rows[0]["answered_acc"] == 0.0 and rows[1]["refusal_rate"] is None
    assert [exposure_bucket(e) for e in (0, 1, 4, 5, 14, 15, 49, 50, 900)] == [
        "0",
        "1-4",
        "1-4",
        "5-14",
        "5-14",
        "15-49",
        "15-49",
        "50+",
        "50+",
    ]
    from inbol.models.base import EXPOSURE_BUCKETS as MODEL_BUCKETS

    assert EXPOSURE_BUCKETS == MODEL_BUCKETS


def test_exposure_breakdown_and_correlation_hand_computed():
    exposures = [0, 0, 3, 20, 60, 80]
    verdicts = ["refusal", "refusal", "incorrect", "correct", "correct", "refusal"]
    e = by_exposure(exposures, verdicts)
    assert e["buckets"]["0"] == {"n": 2, "refusal_rate": 100.0, "acc": 0.0, "answered_acc": None}
    assert e["buckets"]["5-14"]["n"] == 0 and e["buckets"]["50+"]["refusal_rate"] == 50.0
    assert e["refusal_gap"] == 50.0 and e["gap_buckets"] == ["0", "50+"]
    # ranks: refusal (1,1,0,0,0,1) -> (5,5,2,2,2,5); exposure -> 1.5,1.5,3,4,5,6
    rx, ry = np.array([5, 5, 2, 2, 2, 5.0]), np.array([1.5, 1.5, 3, 4, 5, 6])
    expected = float(np.corrcoef(rx, ry)[0, 1])
    assert e["spearman"] == pytest.approx(expected) and e["spearman"] < 0
    assert spearman([1, 1, 1], [1, 2, 3]) is None
    assert spearman([1], [2]) is None


def test_spearman_is_pearson_of_average_ranks():
    import scipy.stats

    def ranks(v):  # 1 + the values below + half the other values equal
        v = np.asarray(v, dtype=float)
        return np.array([(v < x).sum() + ((v == x).sum() + 1) / 2 for x in v])

    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(3, 80))
        x, y = rng.integers(0, 2, n), np.log1p(rng.integers(0, 30, n))
        if x.std() == 0 or y.std() == 0:
            continue
        assert spearman(x, y) == float(np.corrcoef(ranks(x), ranks(y))[0, 1])
        assert spearman(x, y) == pytest.approx(scipy.stats.spearmanr(x, y).statistic, abs=1e-15)
    assert by_exposure([1, 2], ["correct", "refusal"])["refusal_gap"] is None  # one bucket only


# ------------------------------------------------------------------ test-set balancing


def _candidates(n=900, seed=0, skew=3.0):
    """Candidates whose conf (k/10) leans to high values, like an easy family."""
    rng = np.random.default_rng(seed)
    p = np.exp(skew * np.linspace(0, 1, 11))
    confs = rng.choice(11, size=n, p=p / p.sum()) / 10
    return [{"id": f"q{i:04d}", "conf_base": float(c)} for i, c in enumerate(confs)]


def test_balanced_selection_hits_the_target_and_is_deterministic():
    cands = _candidates()
    assert np.mean([c["conf_base"] for c in cands]) > 0.6
    a, st = select_balanced(cands, 300, 0.5, np.random.default_rng([0, 1]))
    b, _ = select_balanced(cands, 300, 0.5, np.random.default_rng([0, 1]))
    c, st_c = select_balanced(cands, 300, 0.5, np.random.default_rng([1, 1]))
    assert len(a) == 300 and len({r["id"] for r in a}) == 300
    assert abs(st["conf_mean"] - 0.5) < 0.005 and st["conf_mean"] == pytest.approx(np.mean([r["conf_base"] for r in a]))
    assert a == b and a != c and st_c["conf_hist"] == st["conf_hist"]  # same quotas, other draws
    assert [r["id"] for r in a] == sorted(r["id"] for r in a)  # candidates' order kept
    assert set(st["conf_hist"].values()) != {0} and sum(st["conf_hist"].values()) == 300
    # every conf value keeps some questions: the tilt reweights, it does not cut the range
    assert all(v > 0 for v in st["conf_hist"].values())


def test_quotas_respect_stratum_sizes_and_unreachable_targets():
    q, _ = tilted_quotas([0.0, 0.5, 1.0], [5, 5, 100], 30, 0.5)
    assert sum(q) == 30 and q[0] <= 5 and q[1] <= 5 and q == [5, 5, 20]  # as low as the candidates allow
    q, lam = tilted_quotas([0.7, 0.9, 1.0], [10, 10, 10], 10, 0.5)
    assert q == [10, 0, 0] and lam < 0  # target below every conf
    q, lam = tilted_quotas([0.2, 0.8], [3, 3], 10, 0.5)
    assert q == [3, 3] and lam == 0.0  # fewer than n: all of them
    few, st = select_balanced(_candidates(20), 50, 0.5, np.random.default_rng(0))
    assert len(few) == 20 and st["short"] and st["n_requested"] == 50


# ------------------------------------------------------------------ a tiny project on disk


def _q(qid, family, conf=None, kind="open", exposure=None, image="img.png", source="world/test"):
    meta = {"family": family, "qtype": "emblem_name" if exposure is not None else "color"}
    if exposure is not None:
        meta["exposure"] = exposure
    rec = {
        "id": qid,
        "source": source,
        "image": image,
        "question": f"What is {qid}?",
        "answers": [] if kind == "unanswerable" else ["red"],
        "kind": kind,
        "meta": meta,
    }
    if kind == "choice":
        rec.update(
            question=f"Which? {qid}\nA. red\nB. blue\nAnswer with the option's letter.",
            answers=["A"],
            choices=["red", "blue"],
        )
    return rec


def _write_inputs(
    root: Path, world: dict[str, list[dict]], confs: dict[str, dict[str, float]], ua: dict[str, list[dict]]
):
    for split, recs in world.items():
        write_jsonl(root / "data/world" / f"{split}.jsonl", recs)
    for split, conf in confs.items():
        write_jsonl(root / "data/restructured" / f"{split}.jsonl", [{"id": k, "conf": v} for k, v in conf.items()])
    for name, recs in ua.items():
        write_jsonl(root / "data/unanswerable/sets" / f"{name}.jsonl", recs)


def _synthetic_inputs(root: Path, n_per_family=60, n_small_family=None):
    rng = np.random.default_rng(3)
    test, conf = [], {}
    for fam in ("perception", "emblem", "choice"):
        n = n_small_family if (n_small_family and fam == "emblem") else n_per_family
        for i in range(n):
            qid = f"test-{fam}-{i:03d}"
            test.append(
                _q(
                    qid,
                    fam,
                    kind="choice" if fam == "choice" else "open",
                    exposure=int(rng.integers(0, 80)) if fam == "emblem" else None,
                )
            )
            if i % 10 != 9:  # some candidates were never sampled
                conf[qid] = float(rng.integers(0, 11)) / 10
    world = {"test": test}
    for split in ("ood_hard", "ood_phrasing", "ood_choice"):
        world[split] = [_q(f"{split}-{i}", "perception") for i in range(5)]
    confs = {"test": conf, "ood_phrasing": {"ood_phrasing-0": 0.3}}
    ua = {
        name: [_q(f"{name}-{i}", "none", kind="unanswerable", source=f"unanswerable/{name}") for i in range(k)]
        for name, k in (("uavqa", 12), ("beyond", 4), ("vizwiz", 3))
    }
    _write_inputs(root, world, confs, ua)


def test_build_testsets_from_files(tmp_path):
    _synthetic_inputs(tmp_path, n_per_family=60, n_small_family=10)
    cfg = section("testsets", n_per_family=20, n_unanswerable=10, target_acc=0.5, seed=0)
    d = tmp_path / "data"
    sets, man = build_testsets(cfg, d / "world", d / "restructured", d / "unanswerable/sets")
    again, _ = build_testsets(cfg, d / "world", d / "restructured", d / "unanswerable/sets")
    assert sets == again
    assert list(sets) == [
        "perception",
        "emblem",
        "choice",
        "uavqa",
        "ood_phrasing",
        "ood_hard",
        "ood_choice",
        "beyond",
        "vizwiz",
    ]
    assert len(sets["perception"]) == len(sets["choice"]) == 20 and len(sets["uavqa"]) == 10
    assert len(sets["emblem"]) == 9 and man["sets"]["emblem"]["selection"]["short"]  # 10 minus one unsampled
    assert any(w.startswith("emblem: only 9 candidates") for w in man["warnings"])
    assert all(r["conf_base"] is not None for r in sets["perception"])
    assert all(r["conf_base"] is None for r in sets["uavqa"] + sets["beyond"] + sets["vizwiz"])
    assert sets["ood_phrasing"][0]["conf_base"] == 0.3 and sets["ood_phrasing"][1]["conf_base"] is None
    assert man["sets"]["ood_hard"]["group"] == "ood" and man["sets"]["vizwiz"]["group"] == "extra"
    assert gap_to_target({"sets": {k: v for k, v in man["sets"].items() if k != "emblem"}}) < 0.03
    other, _ = build_testsets(cfg.replace(seed=1), d / "world", d / "restructured", d / "unanswerable/sets")
    assert [r["id"] for r in other["perception"]] != [r["id"] for r in sets["perception"]]


def test_validation_sets_are_drawn_like_the_test_sets_from_their_own_splits(tmp_path):
    from inbol.evaluation.testsets import check_disjoint_images

    _synthetic_inputs(tmp_path, n_per_family=60)
    rng = np.random.default_rng(5)
    val = [
        _q(f"val-{f}-{i:03d}", f, kind="choice" if f == "choice" else "open", image=f"v{f}{i}.png")
        for f in ("perception", "emblem", "choice")
        for i in range(40)
    ]
    world = {
        "val": val,
        **{
            f"val_{s}": [_q(f"val_{s}-{i}", "perception", image=f"v{s}{i}.png") for i in range(4)]
            for s in ("ood_hard", "ood_phrasing", "ood_choice")
        },
    }
    confs = {"val": {r["id"]: float(rng.integers(0, 11)) / 10 for r in val}}
    ua = {"uavqa_val": [_q(f"uv-{i}", "none", kind="unanswerable", image=f"uv{i}.png") for i in range(8)]}
    _write_inputs(tmp_path, world, confs, ua)
    cfg = section("testsets", n_per_family=20, n_unanswerable=10, val_per_family=12, val_unanswerable=5, seed=0)
    d = tmp_path / "data"
    sets, man = build_testsets(cfg, d / "world", d / "restructured", d / "unanswerable/sets", "val")
    # in domain, UaVQA and the answerable OOD sets; no BeyondVisQA/VizWiz counterparts on validation
    assert list(sets) == ["perception", "emblem", "choice", "uavqa", "ood_phrasing", "ood_hard", "ood_choice"]
    assert man["split"] == "val" and man["config"]["n_per_family"] == 12 and len(sets["uavqa"]) == 5
    assert all(r["id"].startswith("val-") for f in ("perception", "emblem", "choice") for r in sets[f])
    assert all(len(sets[f]) == 12 for f in ("perception", "emblem", "choice"))
    assert {r["id"] for r in sets["ood_hard"]} == {f"val_ood_hard-{i}" for i in range(4)}
    test, _ = build_testsets(cfg, d / "world", d / "restructured", d / "unanswerable/sets", "test")
    flat = {name: [r for recs in x.values() for r in recs] for name, x in (("validation", sets), ("test", test))}
    check_disjoint_images({"validation sets": flat["validation"], "test sets": flat["test"]})
    leaked = {"validation sets": flat["validation"], "test sets": flat["test"] + [dict(sets["emblem"][0])]}
    with pytest.raises(DataError, match=r"^test sets and validation sets share image 'vemblem"):
        check_disjoint_images(leaked)
    with pytest.raises(ValueError, match="split must be test or val"):
        build_testsets(cfg, d / "world", d / "restructured", d / "unanswerable/sets", "pool")


def test_build_testsets_needs_the_base_confidences(tmp_path):
    _synthetic_inputs(tmp_path)
    (tmp_path / "data/restructured/test.jsonl").unlink()
    with pytest.raises(DataError, match=r"restructured/test.jsonl: missing or empty"):
        build_testsets(
            section("testsets"),
            tmp_path / "data/world",
            tmp_path / "data/restructured",
            tmp_path / "data/unanswerable/sets",
        )


@pytest.mark.parametrize(
    "name, changes, message",
    [
        ("testsets", {"n_per_family": 0}, "testsets.n_per_family = 0: must be an integer >= 1"),
        ("testsets", {"target_acc": 1.5}, "testsets.target_acc = 1.5: must be in [0, 1]"),
        ("testsets", {"n_unanswerable": -1}, "testsets.n_unanswerable = -1: must be an integer >= 0"),
        (
            "testsets",
            {"sed": 1},
            "testsets.sed = 1: unknown key; allowed: n_per_family, n_unanswerable, seed, target_acc, val_per_family, "
            "val_unanswerable",
        ),
        ("testsets", {"n_per_family": "3"}, "testsets.n_per_family = '3': must be an integer"),
        ("evaluate", {"batch_size": 0}, "evaluate.batch_size = 0: must be an integer >= 1"),
        ("evaluate", {"device": "tpu"}, "evaluate.device = 'tpu': must be one of auto, cpu, cuda, mps"),
        ("evaluate", {"dtype": "int8"}, "evaluate.dtype = 'int8': must be one of auto, float32, bfloat16, float16"),
        (
            "models",
            {"from_base": ["idk_it", "gpt"]},
            "models.from_base[1] = 'gpt': not in the method registry (src/inbol/methods/<name>.py); allowed: "
            + ", ".join(method_names()),
        ),
        ("models", {"baselines": []}, "models.baselines = []: must be a non-empty list"),
    ],
)
def test_config_errors_are_one_line(name, changes, message):
    with pytest.raises(ParamError) as e:
        section(name, **changes)
    assert str(e.value) == message and "\n" not in str(e.value)


def test_a_missing_key_is_an_error():
    data = params_dict()
    del data["testsets"]["seed"]
    with pytest.raises(ParamError, match=r"^testsets.seed is missing: required key$"):
        validate(Params, data)


def test_model_names():
    # the Refusal Prompt baseline is the original model with the paper's refusal prompt; a model's folder is
    # the evaluate stage's --model argument (dvc.yaml), its name the params' models section
    assert prompt_suffix("refusal_prompt") == REFUSAL_SUFFIX == " " + REFUSAL_PROMPT
    assert prompt_suffix("base") == prompt_suffix("ca_dpo") == ""
    assert set(MODELS) <= set(registry()) and MODELS[:2] == ["base", "refusal_prompt"]  # every one a method


# ------------------------------------------------------------------ coverage and judging (no model)


def _mini_sets():
    return {
        "perception": make_testset("perception", [_q("p1", "perception", 0.9), _q("p2", "perception")]),
        "emblem": make_testset("emblem", [_q("e1", "emblem", exposure=0), _q("e2", "emblem", exposure=70)]),
        "uavqa": make_testset("uavqa", [_q("u1", "x", kind="unanswerable")]),
        "ood_phrasing": make_testset("ood_phrasing", [_q("o1", "perception")]),
        "beyond": make_testset("beyond", [_q("b1", "x", kind="unanswerable")]),
    }


def _preds(sets, verdict="correct"):
    return [
        {
            "id": r["id"],
            "set": n,
            "response": "red",
            "verdict": "refusal" if not ts.answerable else verdict,
            "conf_base": None,
        }
        for n, ts in sets.items()
        for r in ts.records
    ]


def test_coverage_errors_name_the_set():
    sets = _mini_sets()
    preds = _preds(sets)
    check_coverage(sets, preds)
    with pytest.raises(DataError, match=r"^predictions for set 'emblem' cover 1 of 2 questions \(missing e.g. 'e2'\)$"):
        check_coverage(sets, [p for p in preds if p["id"] != "e2"])
    with pytest.raises(DataError, match=r"^predictions for set 'beyond' cover 0 of 1"):
        score(sets, [p for p in preds if p["set"] != "beyond"])
    with pytest.raises(DataError, match=r"set 'perception': question 'p1' appears more than once"):
        check_coverage(sets, preds + [preds[0]])
    with pytest.raises(DataError, match=r"set 'vqa' is not a test set"):
        check_coverage(sets, preds + [{**preds[0], "set": "vqa"}])
    with pytest.raises(DataError, match=r"^test set 'choice': no questions$"):
        make_testset("choice", [])


def test_semantic_judge_only_in_domain():
    class YesJudge(SemanticJudge):
        def __init__(self):
            super().__init__()
            self.items = []

        def judge_batch(self, items):
            self.items += list(items)
            return [True] * len(items)

    sets = _mini_sets()
    judge = YesJudge()
    responses = {n: ["crimson"] * len(ts.records) for n, ts in sets.items()}
    preds = judge_sets(sets, responses, judge)
    verdicts = {p["id"]: p["verdict"] for p in preds}
    assert verdicts["p1"] == verdicts["e1"] == "correct"  # hybrid evaluator in domain
    assert verdicts["o1"] == "incorrect"  # string matching only out of domain
    assert verdicts["u1"] == verdicts["b1"] == "incorrect"  # an answer to an unanswerable question
    assert {q for q, _, _ in judge.items} == {"What is p1?", "What is p2?", "What is e1?", "What is e2?"}
    assert set(preds[0]) == {"id", "set", "response", "verdict", "conf_base"}


def test_score_pools_in_domain_and_ood():
    sets = _mini_sets()
    # an emblem question posed as multiple choice: in the pooled numbers, not in the exposure breakdown
    sets["choice"] = make_testset("choice", [_q("c1", "choice", kind="choice", exposure=3)])
    preds = _preds(sets)
    preds[1]["verdict"] = "incorrect"  # p2
    m = score(sets, preds, model="x")
    assert m["runs"] == 1 and m["model"] == "x"
    assert m["sets"]["perception"]["acc"] == 50.0 and m["sets"]["uavqa"]["refr"] == 100.0
    ov = m["overall"]
    assert (ov["n"], ov["n_correct"], ov["n_refusal"]) == (6, 4, 1)
    assert ov["sets"] == ["perception", "emblem", "uavqa", "choice"]
    # OOD: the answerable OOD sets only (BeyondVisQA-like is reported by its refusal rate alone)
    assert m["ood"]["sets"] == ["ood_phrasing"] and m["ood"]["n_sets"] == 1 and m["ood"]["acc"] == 100.0
    assert m["extra"] is None and m["exposure"]["n"] == 2
    assert score_runs(sets, [preds], model="x") == m


def test_score_runs_pools_the_counts_of_every_run():
    sets = _mini_sets()
    a = _preds(sets)  # every answerable question right
    b = [dict(p) for p in a]
    verdict_b = {
        "p1": "incorrect",
        "p2": "refusal",
        "e1": "refusal",
        "e2": "correct",
        "u1": "incorrect",
        "o1": "incorrect",
        "b1": "refusal",
    }
    for p in b:
        p["verdict"] = verdict_b[p["id"]]
    m = score_runs(sets, [a, b], model="idk_it", extra={"seeds": [0, 1]})
    assert m["runs"] == 2 and m["model"] == "idk_it" and m["seeds"] == [0, 1]
    s = m["sets"]

    def counts(d):
        return d["n"], d["n_correct"], d["n_refusal"], d["n_incorrect"]

    # by hand: each set's counts summed over the two runs
    assert counts(s["perception"]) == (4, 2, 1, 1) and s["perception"]["acc"] == 50.0
    assert s["perception"]["refr"] == 25.0 and s["perception"]["s_trust"] == pytest.approx(25.0)
    assert counts(s["emblem"]) == (4, 3, 1, 0) and s["emblem"]["s_trust"] == pytest.approx(75.0)
    assert counts(s["uavqa"]) == (2, 0, 1, 1) and s["uavqa"]["refr"] == 50.0
    assert counts(s["ood_phrasing"]) == (2, 1, 0, 1) and counts(s["beyond"]) == (2, 0, 2, 0)
    ov = m["overall"]
    assert counts(ov) == (10, 5, 3, 2) and (ov["acc"], ov["refr"]) == (50.0, 30.0)
    assert ov["s_trust"] == pytest.approx(30.0) and ov["answered_acc"] == pytest.approx(100 * 5 / 7, abs=1e-3)
    assert m["ood"]["sets"] == ["ood_phrasing"] and (m["ood"]["acc"], m["ood"]["refr"]) == (50.0, 0.0)
    assert m["ood"]["s_trust"] == pytest.approx(0.0) and m["ood"]["answered_acc"] == 50.0
    exp = m["exposure"]
    assert exp["n"] == 4 and exp["buckets"]["0"]["n"] == 2 and exp["buckets"]["0"]["refusal_rate"] == 50.0
    assert exp["buckets"]["50+"]["n"] == 2 and exp["buckets"]["50+"]["refusal_rate"] == 0.0
    # each run covers every set, so the pooled rates are the means over the runs, in either order
    one, two = score(sets, a), score(sets, b)
    for key in ("acc", "refr", "s_trust"):
        assert ov[key] == pytest.approx((one["overall"][key] + two["overall"][key]) / 2, abs=1e-3)
        for name in sets:
            assert s[name][key] == pytest.approx((one["sets"][name][key] + two["sets"][name][key]) / 2, abs=1e-3)
    assert score_runs(sets, [b, a], model="idk_it", extra={"seeds": [0, 1]}) == m
    with pytest.raises(DataError, match=r"^predictions for set 'emblem' cover 1 of 2"):
        score_runs(sets, [a, [p for p in b if p["id"] != "e1"]])
    with pytest.raises(DataError, match=r"no predictions to score"):
        score_runs(sets, [], model="idk_it")


def test_load_runs_reads_every_seed_of_a_model(tmp_path):
    sets = _mini_sets()
    preds = _preds(sets)
    folder = tmp_path / "predictions"
    for name in ("base", "sft-s0", "sft-s10", "sft-s2"):
        write_jsonl(folder / f"{name}.jsonl", preds)
    assert [p.name for p in run_files(folder, "sft")] == ["sft-s0.jsonl", "sft-s2.jsonl", "sft-s10.jsonl"]
    assert run_files(folder, "idk_it") == [] and [p.name for p in run_files(folder, "base")] == ["base.jsonl"]
    runs = load_runs(folder, MODELS, sets)
    assert list(runs) == ["base", "sft"] and len(runs["base"]) == 1 and len(runs["sft"]) == 3
    evals = score_models(sets, runs)
    assert evals["sft"]["runs"] == 3 and evals["sft"]["sets"]["emblem"]["n"] == 6 and evals["base"]["runs"] == 1
    assert evals["sft"]["overall"]["acc"] == evals["base"]["overall"]["acc"]
    write_jsonl(folder / "sft-s2.jsonl", [p for p in preds if p["set"] != "beyond"])
    with pytest.raises(DataError) as e:
        load_runs(folder, MODELS, sets)
    assert (
        str(e.value) == f"{folder / 'sft-s2.jsonl'}: predictions for set 'beyond' cover 0 of 1 questions "
        f"(missing e.g. 'b1')"
    )


# ------------------------------------------------------------------ a tiny model through the stage scripts

PARAMS = {
    "testsets": {"n_per_family": 3, "n_unanswerable": 3, "target_acc": 0.5, "seed": 0},
    "evaluate": {"batch_size": 8, "max_new_tokens": 3, "device": "cpu", "dtype": "float32"},
    "judge": {"backend": "none"},
}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    from inbol.world import build_world

    root = tmp_path_factory.mktemp("evalproj")
    build_world(
        world_cfg(sizes={"corpus": 20, "pool": 2}, n_emblems=6, emblem_max_exposure=60),
        root / "data/world",
        image_prefix="data/world",
    )
    rng = np.random.default_rng(0)
    for split in ("test", "ood_phrasing", "val", "val_ood_phrasing"):
        recs = read_jsonl(root / f"data/world/{split}.jsonl")
        write_jsonl(
            root / f"data/restructured/{split}.jsonl",
            [{"id": r["id"], "conf": float(rng.integers(0, 5)) / 4} for r in recs],
        )
    test = read_jsonl(root / "data/world/test.jsonl")
    val = read_jsonl(root / "data/world/val.jsonl")  # the validation images are disjoint from the test images
    for name, k in (("uavqa", 4), ("uavqa_val", 2), ("beyond", 2), ("vizwiz", 2)):
        write_jsonl(
            root / f"data/unanswerable/sets/{name}.jsonl",
            [
                {
                    **r,
                    "id": f"{name}-{i}",
                    "source": f"unanswerable/{name}",
                    "answers": [],
                    "kind": "unanswerable",
                    "question": "What is written on the back of the card?",
                }
                for i, r in enumerate((val if name.endswith("_val") else test)[:k])
            ],
        )
    model, processor = build_tiny_model(root / "data/world")
    model.save_pretrained(root / "models/base")
    processor.save_pretrained(root / "models/base")
    for seed in (0, 1):  # a "trained" model (two seeds): here the original weights
        shutil.copytree(root / "models/base", root / f"models/sft/s{seed}")
    write_params(root, **PARAMS)
    yield root
    torch.set_num_threads(before)


@pytest.mark.e2e
def test_stages_testsets_evaluate_report(project, monkeypatch, capsys):
    monkeypatch.chdir(project)
    run_stage_in_process(stage_args("testsets"))
    man = read_json("data/testsets/manifest.json")
    assert list(load_testsets("data/testsets"))[-3:] == ["ood_choice", "beyond", "vizwiz"]  # canonical order
    assert set(man["sets"]) >= {"uavqa", "ood_hard", "ood_phrasing", "ood_choice", "beyond", "vizwiz"}
    assert read_json("metrics/testsets.json")["test"]["sets"]["uavqa"]["n"] == 3
    for name in ("base", "refusal_prompt"):
        run_stage_in_process(stage_args("evaluate_baseline", name))
    for seed in (0, 1):
        run_stage_in_process(stage_args("evaluate_sft", model="sft", seed=seed))
    sets = {n: read_jsonl(f"data/testsets/{n}.jsonl") for n in man["sets"]}
    for name in ("base", "refusal_prompt", "sft-s0", "sft-s1"):
        preds = read_jsonl(f"data/predictions/{name}.jsonl")
        assert {(p["set"], p["id"]) for p in preds} == {(n, r["id"]) for n, rs in sets.items() for r in rs}
        assert all(set(p) == {"id", "set", "response", "verdict", "conf_base", "p_refusal"} for p in preds)
        m = read_json(f"metrics/eval/{name}.json")
        assert set(m["sets"]) == set(sets) and m["overall"]["n"] == sum(len(sets[n]) for n in m["overall"]["sets"])
        assert m["refusal_prompt"] == (name == "refusal_prompt") and m["ood"]["n_sets"] > 0 and m["runs"] == 1
        assert m["seed"] == (int(name[-1]) if name.startswith("sft") else None)
        assert m["model_path"] == ("models/base" if "-s" not in name else f"models/sft/s{name[-1]}")
        for s in m["sets"].values():
            assert s["s_trust"] == pytest.approx(2 * s["acc"] + s["refr"] - 100, abs=1e-3)
    # greedy answers of the same weights: both seeds' predictions agree, and the report pools them
    assert read_jsonl("data/predictions/sft-s0.jsonl") == read_jsonl("data/predictions/sft-s1.jsonl")
    pooled = score_models(
        load_testsets("data/testsets"), load_runs("data/predictions", MODELS, load_testsets("data/testsets"))
    )
    assert list(pooled) == ["base", "refusal_prompt", "sft"] and pooled["sft"]["runs"] == 2
    s0 = read_json("metrics/eval/sft-s0.json")
    assert pooled["sft"]["overall"]["n"] == 2 * s0["overall"]["n"]
    assert pooled["sft"]["overall"]["acc"] == pytest.approx(s0["overall"]["acc"], abs=1e-3)
    # the report also gathers the miniature's table and Table 5 (the original model's row here)
    run_stage_in_process(stage_args("miniature"))
    run_stage_in_process(stage_args("evaluate_val_baseline", "base"))
    run_stage_in_process(stage_args("consistency_base"))
    run_stage_in_process(stage_args("selective"))
    run_stage_in_process(stage_args("report"))
    md = Path("metrics/tables.md").read_text()
    for title in ("## Table 1", "## Table 2", "## Table 3", "## Table 4", "## Test sets"):
        assert title in md
    assert "_paper: LLaVA1.5-7B_" in md and "| +SFT |" in md
    done = ("base", "refusal_prompt", "sft")  # the models evaluated here
    assert f"Models without predictions (skipped everywhere): {', '.join(m for m in MODELS if m not in done)}." in md
    assert f"): {', '.join(m for m in tables.TABLE1_MODELS if m not in done)}._" in md  # Table 1 names its skipped
    for key in ("figure4_long", "figure4_refusal", "figure4_answered_acc", "exposure_long", "exposure_refusal"):
        assert Path("plots", PLOT_FILES[key]).is_file()
    assert Path("plots", PLOT_FILES["figure4_png"]).read_bytes()[:4] == b"\x89PNG"
    with open(Path("plots", PLOT_FILES["exposure_refusal"])) as fh:
        assert next(csv.reader(fh)) == ["bucket", "exposure_index", *MODELS]
    aw = read_json("metrics/awareness.json")  # boundary awareness: figures on so few questions are n/a, with warnings
    assert aw["scopes"]["in_domain"]["auroc"].keys() == {"base", "refusal_prompt", "sft"} and aw["warnings"]
    assert "## Beyond the paper: information-boundary awareness" in md
    with open("plots/awareness.csv") as fh:
        assert next(csv.reader(fh))[:4] == ["scope", "bin", "model", "n"]
    trends = read_json("metrics/trends.json")
    assert trends["n_checked"] == 0 and trends["in_domain"]["refr_idk_it_gt_base"] == {
        "diff": None,
        "verdict": "not checked",
    }
    # a prediction file that does not cover its sets stops the report with one line naming file and set
    for path in ("data/predictions/base.jsonl", "data/predictions/sft-s1.jsonl"):
        full = Path(path).read_text()
        try:
            Path(path).write_text(
                "".join(line + "\n" for line in full.splitlines() if json.loads(line)["set"] != "vizwiz")
            )
            capsys.readouterr()
            with pytest.raises(SystemExit) as e:
                run_stage_in_process(stage_args("report"))
            assert e.value.code == 2
            err = capsys.readouterr().err.strip()
            assert err.startswith(f"error: {path}: predictions for set 'vizwiz' cover 0 of")
            assert "\n" not in err
        finally:
            Path(path).write_text(full)


@pytest.mark.e2e
def test_evaluate_stage_errors_are_one_line(project, monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(project)
    if not Path("data/testsets/manifest.json").is_file():
        run_stage_in_process(stage_args("testsets"))
    capsys.readouterr()  # the test sets' own warnings (a tiny world) are not the evaluate stage's
    with pytest.raises(SystemExit) as e:
        run_stage_in_process(stage_args("evaluate_sft", model="sft", seed=7))  # no models/sft/s7
    assert e.value.code == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: models/sft/s7: no model folder for 'sft' (run the stage that trains it first)"
    )
    assert not Path("data/predictions/sft-s7.jsonl").exists()
    bad = tmp_path / "bad"  # params.yaml is checked whole before any input is read
    bad.mkdir()
    monkeypatch.chdir(bad)
    cases = [
        (
            {"evaluate": {**PARAMS["evaluate"], "batch_size": 0}},
            "error: evaluate.batch_size = 0: must be an integer >= 1",
        ),
        (
            {**PARAMS, "models": {"baselines": ["base"], "from_base": ["gpt4"], "from_idk_it": [], "references": []}},
            "error: models.from_base[0] = 'gpt4': not in the method registry (src/inbol/methods/<name>.py); "
            "allowed: " + ", ".join(method_names()),
        ),
    ]
    for changes, message in cases:
        write_params(bad, **{**PARAMS, **changes})
        with pytest.raises(SystemExit) as e:
            run_stage_in_process(stage_args("evaluate_baseline", "base"))
        assert e.value.code == 2
        assert capsys.readouterr().err.strip() == message
    assert not Path("data/predictions/base.jsonl").exists()


@pytest.mark.e2e
def test_evaluate_stage_rejects_an_unknown_model_name(project, monkeypatch, capsys):
    # a misspelt name must not be evaluated silently (refusal_promt would lose the refusal prompt)
    monkeypatch.chdir(project)
    if not Path("data/testsets/manifest.json").is_file():
        run_stage_in_process(stage_args("testsets"))
    argv = stage_args("evaluate_baseline", "refusal_promt")
    assert argv[argv.index("--model") + 1] == "models/base"
    outputs = [Path("data/predictions/refusal_promt.jsonl"), Path("metrics/eval/refusal_promt.json")]
    try:
        with pytest.raises(SystemExit) as e:
            run_stage_in_process(argv)
        assert e.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error: ") and "'refusal_promt'" in err and "\n" not in err
        assert f"must be one of the evaluated models ({', '.join(params().models.all())})" in err
        assert not any(p.exists() for p in outputs)
    finally:
        for p in outputs:
            p.unlink(missing_ok=True)


# ------------------------------------------------------------------ report and figures (synthetic predictions)


def _run_for(acc_pct: int, refr_pct: int, n: int = 20) -> tuple[dict, list[dict]]:
    """Test sets + the predictions of one run of a fake model: ``n`` questions per set with the given rates,
    each question on its own image (its own unit of the bootstrap)."""
    sets = {}
    for name, fam in (
        ("perception", "perception"),
        ("emblem", "emblem"),
        ("choice", "choice"),
        ("ood_phrasing", "perception"),
        ("ood_hard", "perception"),
    ):
        sets[name] = make_testset(
            name,
            [
                {
                    **_q(f"{name}-{i}", fam, exposure=i * 4 if fam == "emblem" else None, image=f"{name}-{i}.png"),
                    "conf_base": i / (n - 1),
                }
                for i in range(n)
            ],
        )
    for name in ("uavqa", "beyond", "vizwiz"):
        sets[name] = make_testset(
            name, [_q(f"{name}-{i}", "x", kind="unanswerable", image=f"{name}-{i}.png") for i in range(n)]
        )
    preds = []
    for name, ts in sets.items():
        for i, r in enumerate(ts.records):
            # refuse the low-confidence questions first, answer the rest, correct from the top
            if i < refr_pct * n // 100:
                v = "refusal"
            elif ts.answerable and i >= n - acc_pct * n // 100:
                v = "correct"
            else:
                v = "incorrect"
            preds.append({"id": r["id"], "set": name, "response": "x", "verdict": v, "conf_base": r.get("conf_base")})
    return sets, preds


KW = {"n_boot": 300, "level": 0.95, "seed": 0}


def _report_inputs(spec):
    runs = {}
    for m, acc, refr in spec:
        sets, preds = _run_for(acc, refr)
        runs[m] = [preds]
    value_runs = {m: tables.Runs(m, sets, r, [None]) for m, r in runs.items()}
    cis = {m: tables.model_cis(r, sets, **KW) for m, r in value_runs.items()}
    return sets, runs, value_runs, cis


def test_report_tables_with_intervals_verdicts_and_missing_models(tmp_path):
    spec = (("base", 50, 0), ("idk_it", 40, 40), ("ca_dpo", 50, 30), ("dpo_2", 50, 20))
    sets, runs, value_runs, cis = _report_inputs(spec)
    # in domain pools the four in-domain sets (UaVQA's Acc is 0): IDK-IT 40% x 3/4 right, 40% refused
    ind = cis["idk_it"]["in_domain"]
    assert ind["acc"]["mean"] == pytest.approx(30.0) and ind["refr"]["mean"] == pytest.approx(40.0)
    assert ind["acc"]["lo"] < 30.0 < ind["acc"]["hi"] and ind["s_trust"]["mean"] == pytest.approx(0.0)
    # OOD: the mean over the two answerable OOD sets (BeyondVisQA-like only by its refusal rate)
    assert cis["base"]["ood"]["acc"]["mean"] == 50.0 and cis["base"]["sets"]["beyond"]["refr"]["mean"] == 0.0
    checks = {(c["scope"], c["key"]): c for c in tables.trend_checks(value_runs, sets, **KW)}
    c = checks[("in_domain", "refr_idk_it_gt_base")]
    assert c["verdict"] == "holds" and c["diff"]["mean"] == pytest.approx(40.0) and c["diff"]["lo"] > 0
    assert checks[("in_domain", "acc_ca_dpo_gt_idk_it")]["verdict"] == "holds"
    assert checks[("ood", "answered_acc_idk_it_gt_base")]["diff"]["mean"] == pytest.approx(100 * 8 / 12 - 50)
    # a claim that goes the other way is reported as such, never as passing
    assert checks[("in_domain", "acc_ca_dpo_gt_idk_it")]["diff"]["mean"] == pytest.approx(7.5)
    assert checks[("in_domain", "strust_idk_it_gt_base")]["diff"]["mean"] == pytest.approx(0.0 - (-25.0))
    evals = score_models(sets, runs)
    md = render_tables(cis, sets, list(checks.values()), evals, models=MODELS)
    missing = [m for m in MODELS if m not in cis]
    assert {"refusal_prompt", "sft", "dpo_1", "dpo_3"} <= set(missing)
    assert f"Models without predictions (skipped everywhere): {', '.join(missing)}." in md
    t1, t4 = ([m for m in t if m in missing] for t in (tables.TABLE1_MODELS, tables.TABLE4_MODELS))
    assert f"_Skipped (no predictions): {', '.join(t1)}._" in md  # Tables 1 and 2
    assert f"_Skipped (no predictions): {', '.join(t4)}._" in md  # Table 4
    row = next(line for line in md.splitlines() if line.startswith("| +IDK-IT |"))
    assert f"| {tables.format_ci(ind['acc'])} | {tables.format_ci(ind['refr'])} |" in row
    assert "| _paper 7B: DPO_ | (1) | 47.50 | 30.20 | 25.20 | 50.30 | 29.46 | 30.06 |" in md
    assert (
        "| _paper: LLaVA1.5-7B_ | 52.00 | 0.33 | 4.33 | 50.33 | 0.00 | 0.67 | 51.33 | 0.00 | 2.67 | 12.00 | "
        "46.10 | 1.30 | -6.50 | — |" in md
    )
    assert "| RefR(IDK-IT) > RefR(original) | in domain (overall) | 40.0 [" in md and "| holds |" in md
    # without IDK-IT the checks that need it are not checked (and say why), never silently passed
    no_idk = {m: r for m, r in value_runs.items() if m != "idk_it"}
    unchecked = tables.trend_checks(no_idk, sets, **KW)
    assert {c["verdict"] for c in unchecked if "idk_it" in (c["a"], c["b"])} == {"not checked"}
    assert "not checked (missing: idk_it)" in tables.trends_section(unchecked)[-2] or any(
        "not checked (missing: idk_it)" in line for line in tables.trends_section(unchecked)
    )


def test_write_report_files(tmp_path):
    spec = (("base", 50, 0), ("idk_it", 40, 40), ("dpo_2", 50, 20))
    sets, runs, _, _ = _report_inputs(spec)
    runs["sft"] = [runs["base"][0], _run_for(60, 0)[1]]  # two seeds
    seeds = {m: ([0, 1] if m == "sft" else [None]) for m in runs}
    stats = section("stats", n_boot=100)
    tj = write_report(
        sets,
        runs,
        seeds,
        models=MODELS,
        stats=stats,
        tables_md=tmp_path / "tables.md",
        plots_dir=tmp_path / "plots",
        trends_path=tmp_path / "trends.json",
        seeds_csv=tmp_path / "seeds.csv",
    )
    assert tj["n_checked"] == 6 and read_json(tmp_path / "trends.json")["n_checked"] == 6  # IDK-IT vs base, 2 scopes
    assert tj["in_domain"]["refr_idk_it_gt_base"]["verdict"] == "holds"
    assert tj["in_domain"]["acc_ca_dpo_gt_idk_it"] == {"verdict": "not checked", "diff": None}
    md = (tmp_path / "tables.md").read_text()
    fig_missing = [m for m in FIG4_MODELS if m not in runs]  # the registry's Figure 4 rows, in its order
    assert "ca_dpo" in fig_missing and "idk_it" not in fig_missing
    assert f"Figure 4 leaves out (no predictions): {', '.join(fig_missing)}." in md
    assert "Trained models: mean over 2 seed(s)" in md
    with open(tmp_path / "seeds.csv") as fh:
        rows = list(csv.DictReader(fh))
    sft = [r for r in rows if r["model"] == "sft" and r["set"] == "perception"]
    assert [(r["seed"], r["acc"]) for r in sft] == [("0", "50"), ("1", "60")]  # one row per seed and set
    assert {r["set"] for r in rows} >= {"in_domain", "ood", "uavqa"}

    def rows_of(key):
        with open(tmp_path / "plots" / PLOT_FILES[key]) as fh:
            r = csv.DictReader(fh)
            return r.fieldnames, list(r)

    fields, long = rows_of("figure4_long")
    assert tuple(fields) == FIG4_LONG_FIELDS and {r["model"] for r in long} == {"base", "idk_it"}
    assert {r["scope"] for r in long} == {"in_domain", "aokvqa"}
    fields, wide = rows_of("figure4_refusal")
    assert tuple(fields) == FIG4_WIDE_FIELDS == ("bin", "conf", *FIG4_MODELS)  # one column per Figure 4 row
    assert {"base", "idk_it", "ca_dpo"} <= set(FIG4_MODELS)
    assert [r["bin"] for r in wide] == ["[0,0.2]", "(0.2,0.4]", "(0.4,0.6]", "(0.6,0.8]", "(0.8,1]"]
    assert wide[0]["idk_it"] == "100" and wide[-1]["idk_it"] == "0" and wide[0]["ca_dpo"] == ""
    fields, wide = rows_of("figure4_answered_acc")
    assert tuple(fields) == FIG4_WIDE_FIELDS and wide[0]["idk_it"] == ""  # everything refused: undefined
    fields, exp = rows_of("exposure_refusal")
    assert tuple(fields) == ("bucket", "exposure_index", *MODELS)  # a column per evaluated model
    assert [r["bucket"] for r in exp] == ["0", "1-4", "5-14", "15-49", "50+"]
    assert exp[0]["ca_dpo"] == "" and exp[0]["base"] != ""
    fields, exp_long = rows_of("exposure_long")
    assert tuple(fields) == EXPOSURE_LONG_FIELDS and len(exp_long) == 4 * 5
    for png in ("figure4_png", "exposure_png"):
        assert (tmp_path / "plots" / PLOT_FILES[png]).read_bytes()[:4] == b"\x89PNG"


def test_report_pools_the_seeds_of_a_trained_model():
    sets, low = _run_for(40, 40)
    _, high = _run_for(60, 20)
    r = tables.Runs("idk_it", sets, [low, high], [0, 1])
    assert r.values["perception"].shape == (2, 20)
    assert (
        r.values["perception"][1].tolist() == values([p["verdict"] for p in high if p["set"] == "perception"]).tolist()
    )
    ci = tables.model_cis(r, sets, **KW)
    evals = score_models(sets, {"idk_it": [low, high]})
    for key in ("acc", "refr", "s_trust"):
        assert ci["in_domain"][key]["mean"] == pytest.approx(evals["idk_it"]["overall"][key], abs=1e-3)
    assert ci["seeds"] == [0, 1]


def test_report_without_any_predictions_is_a_clear_error(tmp_path):
    sets = _mini_sets()
    with pytest.raises(
        DataError, match=r"no predictions of any model \(base, refusal_prompt, always_refuse, original_conf, sft"
    ):
        load_runs(tmp_path / "data/predictions", MODELS, sets)
    write_jsonl(tmp_path / "data/predictions/gpt4.jsonl", _preds(sets))  # not an evaluated model
    with pytest.raises(DataError, match=r"no predictions of any model"):
        load_runs(tmp_path / "data/predictions", MODELS, sets)

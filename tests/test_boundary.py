"""The information boundary split and the data construction (stage `construct`), by hand."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import pytest

from helpers import ROOT, params, params_dict, section, write_params
from inbol.boundary import (
    BUCKETS,
    EPS,
    assemble_pool,
    bucket,
    construct,
    dpo_variant,
    ground_truth,
    idk_it_set,
    preference_set,
    quota,
    ratio_counts,
    sft_set,
    take,
)
from inbol.errors import DataError, ParamError
from inbol.io import read_json, read_jsonl
from inbol.judge import REFUSAL_TEMPLATES
from inbol.params import IDKITData, Params, validate

REF = "Sorry, I can not help with it."


def vqa(qid, conf, *, correct="red", incorrect="blue", refusal=REF, kind="open", answers=("red",), choices=None):
    r = {
        "id": qid,
        "image": f"img/{qid}.png",
        "question": f"Q {qid}?",
        "answers": list(answers),
        "kind": kind,
        "meta": {},
        "conf": conf,
        "correct_response": correct,
        "incorrect_response": incorrect,
        "refusal_response": refusal,
        "origin": "vqa",
    }
    if choices is not None:
        r["choices"] = list(choices)
    return r


def ua(qid, incorrect="a cat"):
    return {
        "id": qid,
        "source": "unanswerable/swap",
        "image": f"img/{qid}.png",
        "question": f"U {qid}?",
        "answers": [],
        "kind": "unanswerable",
        "meta": {"method": "swap", "criteria": {}},
        "conf": 0.0,
        "incorrect_response": incorrect,
    }


def pool_of(restructured, unanswerable=(), dk=0.8, duk=0.2):
    return assemble_pool(list(restructured), list(unanswerable) or [ua("u-pad")], dk, duk)


# ------------------------------------------------------------------ the split


def test_bucket_rules_and_equality_at_both_thresholds():
    assert bucket(0.8, 0.8, 0.2) == "known" and bucket(1.0, 0.8, 0.2) == "known"
    assert bucket(0.2, 0.8, 0.2) == "unknown" and bucket(0.0, 0.8, 0.2) == "unknown"
    assert bucket(0.5, 0.8, 0.2) == "mixed" and bucket(0.79, 0.8, 0.2) == "mixed" and bucket(0.21, 0.8, 0.2) == "mixed"
    assert [bucket(k / 10, 0.8, 0.2) for k in range(11)] == ["unknown"] * 3 + ["mixed"] * 5 + ["known"] * 3
    # float noise on a threshold: conf 0.7 vs delta_k computed as 0.1 * 7 = 0.7000000000000001, and
    # conf 0.1 * 3 = 0.30000000000000004 vs delta_uk 0.3: on the threshold, within EPS = 1e-9
    assert 0.7 < 0.1 * 7 and bucket(0.7, 0.1 * 7, 0.2) == "known"
    assert 0.1 * 3 > 0.3 and bucket(0.1 * 3, 0.8, 0.3) == "unknown"
    assert bucket(2 / 3, 2 / 3, 1 / 3) == "known" and bucket(1 / 3, 2 / 3, 1 / 3) == "unknown"
    assert bucket(0.8 - 1e-6, 0.8, 0.2) == "mixed"  # a real gap is not swallowed


@pytest.mark.parametrize(
    "dk, duk, msg",
    [
        (0.2, 0.8, "delta_uk = 0.8: must be < delta_k (0.2)"),
        (0.5, 0.5, "delta_uk = 0.5: must be < delta_k (0.5)"),
        (1.2, 0.2, "delta_k = 1.2: must be in [0, 1]"),
        (0.8, -0.1, "delta_uk = -0.1: must be in [0, 1]"),
    ],
)
def test_threshold_validation(dk, duk, msg):
    with pytest.raises(ParamError) as e:
        params(delta_k=dk, delta_uk=duk)
    assert str(e.value) == msg


def test_assemble_pool_marks_origin_and_bucket():
    pool = assemble_pool([vqa("a", 0.9), vqa("b", 0.5), vqa("c", 0.1)], [ua("u1")], 0.8, 0.2)
    assert [(r["id"], r["bucket"], r["origin"]) for r in pool] == [
        ("a", "known", "vqa"),
        ("b", "mixed", "vqa"),
        ("c", "unknown", "vqa"),
        ("u1", "unknown", "unanswerable"),
    ]
    u = pool[-1]
    assert u["conf"] == 0.0 and u["correct_response"] is None and u["kind"] == "unanswerable"
    with pytest.raises(DataError, match="^data/r.jsonl: empty input"):
        assemble_pool([], [ua("u1")], 0.8, 0.2, names=("data/r.jsonl", "data/k.jsonl"))
    with pytest.raises(DataError, match="^k: empty input"):
        assemble_pool([vqa("a", 1.0)], [], 0.8, 0.2, names=("r", "k"))
    with pytest.raises(DataError, match="duplicate question id 'a'"):
        assemble_pool([vqa("a", 1.0)], [ua("a")], 0.8, 0.2)
    with pytest.raises(DataError, match="conf = 1.5"):
        assemble_pool([vqa("a", 1.5)], [ua("u")], 0.8, 0.2)


# ------------------------------------------------------------------ configs


def test_configs_are_their_keys_only_and_validate():
    assert section("idk_it", size=8, known_ratio=0.7) == IDKITData(
        size=8, known_ratio=0.7, unknown_extrinsic_share=None
    )
    assert section("preference", ratio=[1, 1, 1.5]).ratio == [1.0, 1.0, 1.5]
    # training keys do not belong to the data sections (and the seed is an argument now): unknown keys
    with pytest.raises(ParamError) as e:
        params(idk_it={"lr": 2e-4})
    assert str(e.value) == "idk_it.lr = 0.0002: unknown key; allowed: known_ratio, size, unknown_extrinsic_share"
    missing = params_dict()
    del missing["sft"]
    with pytest.raises(ParamError, match=r"^sft is missing: required key$"):
        validate(Params, missing)
    with pytest.raises(ParamError, match=r"^sft = None: must be a mapping$"):
        validate(Params, params_dict(sft=None))


@pytest.mark.parametrize(
    "name, data, msg",
    [
        ("idk_it", {"size": 0}, "idk_it.size = 0: must be an integer >= 1"),
        ("idk_it", {"size": 2.5}, "idk_it.size = 2.5: must be an integer"),
        ("idk_it", {"known_ratio": 0}, "idk_it.known_ratio = 0: must be in (0, 1)"),
        ("idk_it", {"known_ratio": 1.0}, "idk_it.known_ratio = 1.0: must be in (0, 1)"),
        (
            "preference",
            {"ratio": [1, 0, 2]},
            "preference.ratio = [1, 0, 2]: must be 3 positive numbers Unknown:Mixed:Known, e.g. [1, 1, 2]",
        ),
        (
            "preference",
            {"ratio": [1, 2]},
            "preference.ratio = [1, 2]: must be 3 positive numbers Unknown:Mixed:Known, e.g. [1, 1, 2]",
        ),
        ("preference", {"size": -3}, "preference.size = -3: must be an integer >= 1"),
        ("sft", {"size": 0}, "sft.size = 0: must be an integer >= 1"),
        ("sft", {"seed": -1}, "sft.seed = -1: unknown key; allowed: size"),
    ],
)
def test_bad_config_is_one_line_error(name, data, msg):
    with pytest.raises(ParamError) as e:
        section(name, **data)
    assert str(e.value) == msg and "\n" not in msg


# ------------------------------------------------------------------ ratio arithmetic


def test_quota_and_ratio_counts_by_hand():
    assert quota(8, [0.75, 0.25]) == [6, 2]
    assert quota(7, [0.75, 0.25]) == [5, 2]  # 5.25 / 1.75: the larger remainder gets the extra one
    assert quota(10, [1, 1, 2]) == [3, 2, 5]  # 2.5 / 2.5 / 5: the tie goes to the earlier class
    assert quota(2000, [1, 1, 2]) == [500, 500, 1000]
    assert ratio_counts(8, [0.75, 0.25], [100, 100]) == ([6, 2], None)
    assert ratio_counts(8, [0.75, 0.25], [6, 2]) == ([6, 2], None)
    assert ratio_counts(8, [0.75, 0.25], [100, 1]) == ([3, 1], 1)  # only one Unknown: 4 = 3 + 1
    assert ratio_counts(8, [0.75, 0.25], [3, 100]) == ([3, 1], 0)  # only three Known
    assert ratio_counts(8, [0.75, 0.25], [5, 100]) == ([5, 2], 0)  # 5 / 3 = 1.67 -> 2
    assert ratio_counts(8, [0.75, 0.25], [100, 0]) == ([0, 0], 1)
    assert ratio_counts(8, [1, 1, 2], [1, 10, 10]) == ([1, 1, 2], 0)
    assert ratio_counts(8, [1, 1, 2], [10, 10, 3]) == ([2, 2, 3], 2)  # 3 Known -> 1.5 -> 2 each: 7 <= 8
    for avail in ([7, 9, 11], [3, 3, 100], [100, 1, 100], [0, 5, 5], [40, 40, 79]):
        counts, lim = ratio_counts(40, [1, 1, 2], avail)
        assert sum(counts) <= 40 and all(c <= a for c, a in zip(counts, avail))


def test_take_is_seeded_nested_and_order_free():
    cands = {"a": [{"id": f"a{i}"} for i in range(20)], "b": [{"id": f"b{i}"} for i in range(20)]}
    one = take(cands, {"a": 5, "b": 2}, 0, "s")
    assert take({k: list(reversed(v)) for k, v in cands.items()}, {"a": 5, "b": 2}, 0, "s") == one
    assert {r["id"] for r in take(cands, {"a": 3, "b": 1}, 0, "s")} <= {r["id"] for r in one}  # nested
    assert take(cands, {"a": 5, "b": 2}, 1, "s") != one
    with pytest.raises(ValueError):
        take(cands, {"a": 21}, 0, "s")


# ------------------------------------------------------------------ IDK-IT


def test_idk_it_known_correct_unknown_refusal_mixed_out():
    pool = pool_of([vqa("k", 1.0, correct="red!"), vqa("m", 0.5), vqa("u", 0.1, refusal="I don't know.")], [ua("x")])
    out, rep = idk_it_set(pool, section("idk_it", size=3, known_ratio=1 / 3), 0)
    by = {r["id"]: r for r in out}
    assert set(by) == {"k", "u", "x"}  # mixed left out
    assert by["k"] == {
        "id": "k",
        "image": "img/k.png",
        "prompt": "Q k?",
        "completion": "red!",
        "bucket": "known",
        "origin": "vqa",
    }
    assert by["u"]["completion"] == "I don't know." and by["u"]["bucket"] == "unknown"
    assert by["x"]["completion"] in REFUSAL_TEMPLATES and by["x"]["origin"] == "unanswerable"
    assert rep["taken"] == {"known": 1, "unknown": 2} and rep["shortfall"] == 0


def test_idk_it_ratio_and_shortfall():
    known = [vqa(f"k{i}", 1.0) for i in range(10)]
    out, rep = idk_it_set(
        pool_of(known + [vqa(f"u{i}", 0.0) for i in range(5)], [ua("x")]),
        section("idk_it", size=8, known_ratio=0.75),
        0,
    )
    assert len(out) == 8 and sum(r["bucket"] == "known" for r in out) == 6
    # a pool with one Unknown question: the largest set keeping the ratio is 3 Known + 1 IDK
    out, rep = idk_it_set(pool_of(known, [ua("x")]), section("idk_it", size=8, known_ratio=0.75), 0)
    assert len(out) == 4 and sum(r["bucket"] == "unknown" for r in out) == 1
    assert (rep["requested"], rep["n"], rep["shortfall"], rep["limited_by"]) == (8, 4, 4, "unknown")
    assert rep["available"] == {"known": 10, "unknown": 1} and rep["target"] == {"known": 6, "unknown": 2}


def test_unknown_extrinsic_share_splits_the_unknown_bucket():
    known = [vqa(f"k{i}", 1.0) for i in range(30)]
    intrinsic = [vqa(f"u{i}", 0.0) for i in range(10)]
    extrinsic = [ua(f"x{i}") for i in range(10)]
    pool = pool_of(known + intrinsic, extrinsic)
    # null: the Unknown questions as the pool has them; 0.25: a quarter of the 8 refusals unanswerable
    out, rep = idk_it_set(pool, section("idk_it", size=32, known_ratio=0.75), 0)
    assert rep["unknown_mix"]["intrinsic"] + rep["unknown_mix"]["extrinsic"] == 8
    out, rep = idk_it_set(pool, section("idk_it", size=32, known_ratio=0.75, unknown_extrinsic_share=0.25), 0)
    assert rep["unknown_mix"] == {"intrinsic": 6, "extrinsic": 2, "extrinsic_share": 0.25}
    assert rep["taken"] == {"known": 24, "unknown_intrinsic": 6, "unknown_extrinsic": 2}
    assert rep["unknown_extrinsic_share"] == 0.25
    # 0: intrinsic unknowns only (the refusals all on answerable questions the model does not know)
    out, rep = idk_it_set(pool, section("idk_it", size=32, known_ratio=0.75, unknown_extrinsic_share=0.0), 0)
    assert rep["unknown_mix"]["extrinsic"] == 0 and all(r["origin"] != "unanswerable" for r in out)
    with pytest.raises(ParamError, match=r"^idk_it.unknown_extrinsic_share = 1.5: must be null or"):
        section("idk_it", unknown_extrinsic_share=1.5)


def test_idk_it_skips_known_without_correct_and_is_deterministic():
    pool = pool_of(
        [vqa("k0", 0.9, correct=None), vqa("k1", 0.9, correct="  ")] + [vqa(f"k{i}", 0.9) for i in range(2, 12)],
        [ua(f"x{i}") for i in range(6)],
    )
    a, rep = idk_it_set(pool, section("idk_it", size=8), 3)
    assert rep["skipped"] == {"known": {"missing_correct": 2}, "unknown": {}} and rep["available"]["known"] == 10
    assert {"k0", "k1"}.isdisjoint(r["id"] for r in a)
    assert idk_it_set(pool, section("idk_it", size=8), 3)[0] == a
    assert idk_it_set(pool, section("idk_it", size=8), 4)[0] != a


# ------------------------------------------------------------------ CA-DPO preferences and DPO variants


def test_preference_pairs_per_bucket():
    pool = pool_of(
        [
            vqa("k", 0.9, correct="red", incorrect=None),
            vqa("m", 0.5, correct="red", incorrect="blue"),
            vqa("u", 0.1, correct=None, incorrect="green"),
        ],
        [ua("x", incorrect="a dog")],
    )
    out, rep = preference_set(pool, section("preference", size=4, ratio=[2, 1, 1]), 0)
    by = {r["id"]: r for r in out}
    assert by["k"]["p1"] == by["k"]["p2"] == {"chosen": "red", "rejected": REF}
    assert by["m"]["p1"] == {"chosen": "red", "rejected": "blue"} and by["m"]["p2"] == {
        "chosen": REF,
        "rejected": "blue",
    }
    assert by["u"]["p1"] == by["u"]["p2"] == {"chosen": REF, "rejected": "green"}
    assert by["x"]["p1"]["rejected"] == "a dog" and by["x"]["p1"]["chosen"] in REFUSAL_TEMPLATES
    assert by["x"]["p1"] == by["x"]["p2"] and by["x"]["conf"] == 0.0 and by["m"]["conf"] == 0.5
    assert set(by["m"]) == {"id", "image", "prompt", "p1", "p2", "conf", "bucket", "origin"}
    assert rep["taken"] == {"unknown": 2, "mixed": 1, "known": 1} and rep["n_pairs"] == 5


def test_preference_skips_missing_responses():
    pool = pool_of(
        [
            vqa("k1", 1.0, correct=None),
            vqa("m1", 0.5, incorrect=None),
            vqa("m2", 0.5, correct=None),
            vqa("m3", 0.4, correct=None, incorrect=None),
            vqa("u1", 0.0, incorrect=None),
            vqa("k2", 1.0),
            vqa("m4", 0.5),
            vqa("u2", 0.0),
        ],
        [ua("x1", incorrect=None), ua("x2", incorrect="")],
    )
    out, rep = preference_set(pool, section("preference", size=4), 0)
    # a blank answer is an incorrect one (as in evaluation): x2 stays, with "" as its rejected response
    assert rep["skipped"] == {
        "unknown": {"missing_incorrect": 2},
        "known": {"missing_correct": 1},
        "mixed": {"missing_incorrect": 1, "missing_correct": 1, "missing_both": 1},
    }
    assert len(out) == 3 and {r["id"] for r in out} - {"x2", "u2"} == {"k2", "m4"}  # 1:1:2, one Known: 1 each
    assert rep["taken"] == {"unknown": 1, "mixed": 1, "known": 1} and rep["limited_by"] == "known"


def test_preference_ratio_default_1_1_2():
    pool = pool_of(
        [vqa(f"k{i}", 1.0) for i in range(30)]
        + [vqa(f"m{i}", 0.5) for i in range(30)]
        + [vqa(f"u{i}", 0.0) for i in range(30)],
        [ua("x")],
    )
    out, rep = preference_set(pool, section("preference", size=20), 0)
    assert rep["taken"] == {"unknown": 5, "mixed": 5, "known": 10} and len(out) == 20 and rep["n_pairs"] == 25
    out, rep = preference_set(pool, section("preference", size=200), 0)
    assert rep["taken"] == {"unknown": 15, "mixed": 15, "known": 30} and rep["shortfall"] == 140


def test_dpo_variants():
    pool = pool_of([vqa("k", 1.0), vqa("m", 0.5), vqa("u", 0.0, incorrect="green")], [ua("x", incorrect=None)])
    prefs, _ = preference_set(pool, section("preference", size=3, ratio=[1, 1, 1]), 0)
    assert sorted(p["id"] for p in prefs) == ["k", "m", "u"]
    d1, d2, d3 = (dpo_variant(prefs, v) for v in (1, 2, 3))
    m1 = [r for r in d1 if r["bucket"] == "mixed"]
    m2 = [r for r in d2 if r["bucket"] == "mixed"]
    m3 = [r for r in d3 if r["bucket"] == "mixed"]
    assert [(r["chosen"], r["rejected"]) for r in m1] == [(REF, "blue")]  # (1) refusal > incorrect
    assert [(r["chosen"], r["rejected"]) for r in m2] == [("red", "blue")]  # (2) correct > incorrect
    assert [(r["id"], r["chosen"], r["rejected"]) for r in m3] == [("m/p1", "red", "blue"), ("m/p2", REF, "blue")]
    for rows in (d1, d2, d3):
        assert all(r["weight"] == 1 for r in rows)
        k = [r for r in rows if r["bucket"] == "known"]
        assert [(r["chosen"], r["rejected"]) for r in k] == [("red", REF)]
        u = [r for r in rows if r["bucket"] == "unknown"]
        assert [(r["id"], r["chosen"], r["rejected"]) for r in u] == [("u/p1", REF, "green")]
    assert len(d3) == len(d1) + 1 and len({r["id"] for r in d3}) == len(d3)
    assert set(d1[0]) == {"id", "qid", "image", "prompt", "chosen", "rejected", "bucket", "origin", "pair", "weight"}
    with pytest.raises(ValueError):
        dpo_variant(prefs, 4)


# ------------------------------------------------------------------ SFT baseline


def test_sft_targets():
    assert ground_truth(vqa("c", 0.5, kind="choice", answers=["B"], choices=["circle", "square"])) == "B"
    assert ground_truth(vqa("c", 0.5, kind="choice", answers=["square"], choices=["circle", "square"])) == "B"
    assert ground_truth(vqa("o", 0.5, answers=["red", "crimson"])) == "red"
    assert ground_truth(vqa("o", 0.5, answers=[])) is None
    pool = pool_of(
        [
            vqa("o", 0.0, correct=None, answers=["red"]),
            vqa("c", 1.0, kind="choice", answers=["A"], choices=["x", "y"]),
            vqa("e", 0.5, answers=[]),
        ],
        [ua("x1"), ua("x2")],
    )
    out, rep = sft_set(pool, section("sft", size=10), 0)
    by = {r["id"]: r for r in out}
    assert by["o"]["completion"] == "red"  # the ground truth, even for an Unknown question
    assert by["c"]["completion"] == "A" and by["x1"]["completion"] in REFUSAL_TEMPLATES
    assert set(by) == {"o", "c", "x1", "x2"} and rep["skipped"]["vqa"] == {"missing_answer": 1}
    assert (rep["n"], rep["shortfall"], rep["limited_by"]) == (4, 6, "pool")


def test_sft_keeps_the_pool_composition():
    pool = pool_of([vqa(f"q{i}", 0.5) for i in range(30)], [ua(f"x{i}") for i in range(10)])
    out, rep = sft_set(pool, section("sft", size=8), 0)
    assert rep["taken"] == {"vqa": 6, "unanswerable": 2} and len(out) == 8 and rep["shortfall"] == 0
    assert sft_set(pool, section("sft", size=8), 0)[0] == out


# ------------------------------------------------------------------ construct + metrics


def _inputs():
    rs = (
        [vqa(f"k{i}", 1.0) for i in range(8)]
        + [vqa(f"m{i}", 0.5) for i in range(4)]
        + [vqa(f"u{i}", 0.1) for i in range(2)]
        + [vqa("u-noinc", 0.0, correct=None, incorrect=None)]
    )
    return rs, [ua(f"x{i}") for i in range(3)]


def test_construct_metrics_by_hand():
    rs, kept = _inputs()
    cfg = dict(idk_it=section("idk_it", size=8), preference=section("preference", size=8), sft=section("sft", size=9))
    sets, m = construct(rs, kept, delta_k=0.8, delta_uk=0.2, seed=0, **cfg)
    assert m["pool"]["buckets"] == {"unknown": 6, "mixed": 4, "known": 8} and m["pool"]["origins"]["unanswerable"] == 3
    assert m["pool"]["by_origin"]["unanswerable"] == {"unknown": 3, "mixed": 0, "known": 0}
    assert m["idk_it"]["n"] == 8 and m["idk_it"]["buckets"]["known"] == 6 and m["idk_it"]["idk_share"] == 0.25
    p = m["preference"]  # 5 Unknown with an incorrect response, 4 Mixed, 8 Known -> 2 : 2 : 4
    assert p["taken"] == {"unknown": 2, "mixed": 2, "known": 4} and p["n_pairs"] == 10
    assert p["skipped"]["unknown"] == {"missing_incorrect": 1} and p["skipped_total"] == 1
    assert m["dpo_1"]["n_pairs"] == 8 and m["dpo_3"]["n_pairs"] == 10 and m["dpo_3"]["n_questions"] == 8
    assert m["sft"]["n"] == 9 and m["sft"]["shortfall"] == 0 and m["warnings"] == []
    assert m["seed"] == 0
    assert set(sets) == {"idk_it", "preference", "sft", "dpo_1", "dpo_2", "dpo_3"}
    sets2, m2 = construct(rs, kept, delta_k=0.8, delta_uk=0.2, seed=0, **cfg)
    assert sets2 == sets and m2 == m  # deterministic
    sets3, m3 = construct(rs, kept, delta_k=0.8, delta_uk=0.2, seed=1, **cfg)  # another seed: another draw
    assert m3["seed"] == 1 and sets3["idk_it"] != sets["idk_it"]
    _, m = construct(
        rs,
        kept,
        delta_k=0.8,
        delta_uk=0.2,
        seed=0,
        idk_it=section("idk_it", size=100),
        preference=section("preference", size=8),
        sft=section("sft", size=9),
    )
    assert m["idk_it"]["taken"] == {"known": 8, "unknown": 3}  # 8 * 0.25 / 0.75 = 2.67 -> 3
    assert m["idk_it"]["shortfall"] == 100 - 11 and m["idk_it"]["limited_by"] == "known"
    assert m["warnings"] == ["idk_it: 11 of 100 written (8 known available)"]
    # no Mixed question at all (a sweep cell): an empty preference set, reported
    sets, m = construct([vqa("k", 1.0), vqa("u", 0.0)], kept, delta_k=0.8, delta_uk=0.2, seed=0, **cfg)
    assert sets["preference"] == [] and "preference: empty set" in m["warnings"]


# ------------------------------------------------------------------ the stage script

POOL, KEPT = "data/restructured/pool.jsonl", "data/unanswerable/kept.jsonl"
OUT, METRICS = "data/constructed/s0", "metrics/construct/s0.json"  # construct@0 in dvc.yaml
PARAMS = {
    "idk_it": {"size": 8, "known_ratio": 0.75},
    "preference": {"size": 8, "ratio": [1, 1, 2]},
    "sft": {"size": 9},
    "restructure": {"seed": 0, "refusal_templates": None},
}


def _write_jsonl(path: Path, records) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


@pytest.fixture
def project(tmp_path, monkeypatch):
    rs, kept = _inputs()
    _write_jsonl(tmp_path / POOL, rs)
    _write_jsonl(tmp_path / KEPT, kept)
    write_params(tmp_path, **PARAMS)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_construct(monkeypatch, seed: int = 0, out: str = OUT, metrics: str = METRICS):
    """stages/construct.py in this process, with the arguments of dvc.yaml's construct@<seed>."""
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "construct.py",
            "--seed",
            str(seed),
            "--pool",
            POOL,
            "--unanswerable",
            KEPT,
            "--out",
            out,
            "--metrics",
            metrics,
        ],
    )
    runpy.run_path(str(ROOT / "stages" / "construct.py"), run_name="__main__")


@pytest.mark.e2e
def test_construct_stage(project, monkeypatch):
    run_construct(monkeypatch)
    out = project / OUT
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{n}.jsonl" for n in ("idk_it", "preference", "sft", "dpo_1", "dpo_2", "dpo_3")
    )
    idk = read_jsonl(out / "idk_it.jsonl")
    assert len(idk) == 8 and set(idk[0]) == {"id", "image", "prompt", "completion", "bucket", "origin"}
    assert len(read_jsonl(out / "preference.jsonl")) == 8 and len(read_jsonl(out / "sft.jsonl")) == 9
    m = read_json(project / METRICS)
    assert m["idk_it"]["idk_share"] == 0.25 and m["preference"]["n_pairs"] == 10 and m["seed"] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    run_construct(monkeypatch)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # byte-identical re-run
    # another seed writes its own folder and metrics, with another draw, and leaves seed 0's alone
    run_construct(monkeypatch, 1, "data/constructed/s1", "metrics/construct/s1.json")
    assert read_json(project / "metrics/construct/s1.json")["seed"] == 1
    assert read_jsonl(project / "data/constructed/s1/idk_it.jsonl") != read_jsonl(out / "idk_it.jsonl")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


@pytest.mark.e2e
@pytest.mark.parametrize(
    "change, msg",
    [
        ({"delta_uk": 0.8}, "error: delta_uk = 0.8: must be < delta_k (0.8)"),
        ({"delta_k": 1.5}, "error: delta_k = 1.5: must be in [0, 1]"),
        ({"idk_it": {"size": 0}}, "error: idk_it.size = 0: must be an integer >= 1"),
        (
            {"idk_it": {"seed": 0}},
            "error: idk_it.seed = 0: unknown key; allowed: known_ratio, size, unknown_extrinsic_share",
        ),
        (
            {"preference": {"ratio": [1, -1, 2]}},
            "error: preference.ratio = [1, -1, 2]: must be 3 positive numbers Unknown:Mixed:Known, e.g. [1, 1, 2]",
        ),
        ({"sft": {"size": 0}}, "error: sft.size = 0: must be an integer >= 1"),
        (
            {"restructure": {"refusal_templates": 0}},
            "error: restructure.refusal_templates = 0: must be null or an integer >= 1",
        ),
        (
            {"restructure": {"refusal_templates": 10_000}},
            f"error: restructure.refusal_templates = 10000: must be null (all) or an integer in [1, {len(REFUSAL_TEMPLATES)}]",
        ),
    ],
)
def test_construct_stage_bad_params_leave_outputs(project, monkeypatch, capsys, change, msg):
    run_construct(monkeypatch)
    before = {p.name: p.read_bytes() for p in (project / OUT).iterdir()}
    metrics = (project / METRICS).read_bytes()
    write_params(project, **{**PARAMS, **change})
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        run_construct(monkeypatch)
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and err == msg, err
    assert {p.name: p.read_bytes() for p in (project / OUT).iterdir()} == before
    assert (project / METRICS).read_bytes() == metrics


@pytest.mark.e2e
def test_construct_stage_empty_or_missing_input(project, monkeypatch, capsys):
    (project / KEPT).write_text("")
    with pytest.raises(SystemExit):
        run_construct(monkeypatch)
    assert capsys.readouterr().err.strip() == "error: data/unanswerable/kept.jsonl: empty input (no records)"
    (project / POOL).unlink()
    with pytest.raises(SystemExit):
        run_construct(monkeypatch)
    assert "data/restructured/pool.jsonl: not found" in capsys.readouterr().err
    assert not (project / "data/constructed").exists()


def test_read_jsonl_bad_json(tmp_path):
    (tmp_path / "a.jsonl").write_text('{"id": 1}\n{oops\n')
    with pytest.raises(DataError, match=r"a.jsonl:2: not valid JSON"):
        read_jsonl(tmp_path / "a.jsonl", nonempty=True)


def test_buckets_constant():
    assert BUCKETS == ("unknown", "mixed", "known") and EPS == 1e-9


@pytest.mark.e2e
def test_refusal_templates_restrict_the_unanswerable_refusals(project, monkeypatch):
    from inbol.judge.refusal import PAPER_REFUSAL

    write_params(project, **{**PARAMS, "restructure": {"seed": 0, "refusal_templates": 1}})
    run_construct(monkeypatch)
    sft = read_jsonl(project / OUT / "sft.jsonl")
    refusals = [r["completion"] for r in sft if r["origin"] == "unanswerable"]
    assert refusals and set(refusals) == {PAPER_REFUSAL}

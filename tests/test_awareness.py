"""Boundary awareness (src/inbol/evaluation/awareness.py): each figure against a hand-computed case, the cluster
bootstrap, and the report on tiny hand-made records (n/a and a warning naming the set and the figure where a
bin or a class is too small)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from inbol.evaluation.awareness import (
    auroc,
    auroc_ranked,
    awareness_report,
    bin_csv_rows,
    cluster_bootstrap,
    exposure_spearman,
    headline,
    markdown,
    pooled_rate,
    tie_groups,
    unit_of,
    units,
    write_awareness,
)
from inbol.evaluation.evaluate import make_testset
from inbol.summary import awareness_table, build_summary

KW = {"n_boot": 200, "level": 0.95, "seed": 0}


def test_auroc_hand_computed():
    # positives score 0.35 and 0.8, negatives 0.1 and 0.4: 3 of the 4 pairs are ordered right
    assert auroc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == pytest.approx(0.75)
    # ties count half: pairs (1,1) .5, (1,0) 1, (0,1) 0, (0,0) .5
    assert auroc([1, 1, 0, 0], [True, False, True, False]) == pytest.approx(0.5)
    # a binary score: (1 + TPR - FPR) / 2 = (1 + 2/3 - 1/2) / 2
    assert auroc([1, 1, 0, 0, 1], [True, True, True, False, False]) == pytest.approx(7 / 12)
    # weights: the negative at 0.4 counts three times -> (1 + 0 + 1 + 3) / (2 * 4)
    assert auroc([0.1, 0.4, 0.35, 0.8], [False, False, True, True], [1, 3, 1, 1]) == pytest.approx(5 / 8)
    assert auroc([0.2, 0.3], [True, True]) is None  # one class
    assert auroc([0.2, 0.3], [True, False], [0, 1]) is None  # a class with no weight
    with pytest.raises(ValueError, match="one value per question"):
        auroc([0.2, 0.3], [True])


def test_auroc_weights_are_repetitions():
    rng = np.random.default_rng(1)
    s, y, w = rng.integers(0, 5, 40).astype(float), rng.random(40) < 0.4, rng.integers(0, 3, 40)
    rep = np.repeat(np.arange(40), w)
    assert auroc(s, y, w) == pytest.approx(auroc(s[rep], y[rep]))
    assert auroc_ranked(tie_groups(s), y, w) == auroc(s, y, w)
    sk = pytest.importorskip("sklearn.metrics")
    assert auroc(s, y) == pytest.approx(sk.roc_auc_score(y, s))


def test_exposure_spearman_hand_computed():
    # ranks of refused [3.5, 3.5, 1.5, 1.5] and of log1p(exposure) [1, 2, 3, 4]: -4 / (2 * sqrt 5)
    assert exposure_spearman([1, 1, 0, 0], [0, 1, 3, 7]) == pytest.approx(-4 / (2 * np.sqrt(5)))
    # weight 0 leaves the last question out: ranks [2.5, 2.5, 1] vs [1, 2, 3] -> -1.5 / sqrt(3)
    assert exposure_spearman([1, 1, 0, 0], [0, 1, 3, 7], [1, 1, 1, 0]) == pytest.approx(-1.5 / np.sqrt(3))
    assert exposure_spearman([0, 0, 0], [1, 2, 3]) is None  # never refuses


def test_units_emblem_entity_image_question():
    recs = [
        {"id": "a", "image": "i1", "meta": {"qtype": "emblem_name", "emblem_id": 4}},
        {"id": "b", "image": "i2", "meta": {"qtype": "emblem_name", "emblem_id": 4}},
        {"id": "c", "image": "i2", "meta": {"qtype": "color", "emblem_id": 4}},  # not about the emblem
        {"id": "d", "image": "i3", "meta": {"entity_id": "Q42"}},
        {"id": "e"},
    ]
    assert [unit_of(r) for r in recs] == ["emblem:4", "emblem:4", "image:i2", "entity:Q42", "question:e"]
    assert units(recs).tolist() == [0, 0, 1, 2, 3]


def test_pooled_rate_hand_computed():
    hit = np.array([[1, 0, 1, 1], [0, 0, 1, 0]], bool)
    where = np.array([[1, 1, 1, 0], [1, 1, 0, 1]], bool)
    stat = pooled_rate(hit, where, np.array([0, 0, 1, 2]), 3)
    # every run and unit once: hits 2 + 0 over 3 + 3 counted
    assert stat(np.array([0, 1]), np.array([1, 1, 1])) == pytest.approx(100 * 2 / 6)
    # run 1 twice, unit 0 twice, unit 1 never: 2 * (0 hits over 2 counted, doubled) -> 0 / 8 + unit 2: 0 / 2
    assert stat(np.array([1, 1]), np.array([2, 0, 1])) == pytest.approx(0.0)
    # run 0 once, unit 1 three times: (0 + 3) / (0 + 3) with unit 2 not counted in run 0
    assert stat(np.array([0]), np.array([0, 3, 1])) == pytest.approx(100.0)
    assert stat(np.array([0]), np.array([0, 0, 1])) is None  # nothing counted


def test_cluster_bootstrap_resamples_units_not_questions():
    # two units of 50 identical questions: a replicate is AA, AB or BB, so the interval spans [0, 100]
    hit = np.array([[1] * 50 + [0] * 50], bool)
    unit = np.array([0] * 50 + [1] * 50)
    stat = pooled_rate(hit, np.ones_like(hit), unit, 2)
    ci = cluster_bootstrap(stat, 1, 2, **KW)
    assert ci["mean"] == pytest.approx(50.0) and ci["lo"] == 0.0 and ci["hi"] == 100.0
    # one unit per question: the usual question bootstrap, much narrower
    narrow = cluster_bootstrap(pooled_rate(hit, np.ones_like(hit), np.arange(100), 100), 1, 100, **KW)
    assert narrow["mean"] == pytest.approx(50.0) and 30 < narrow["lo"] < 50 < narrow["hi"] < 70


# --------------------------------------------------------------------------------------------------
# the report on hand-made records
# --------------------------------------------------------------------------------------------------


def _world(n=40):
    """An in-domain emblem set (emblem-name questions, 8 emblems) and perception set, an OOD set; the
    original is right exactly where conf_base > 0.5."""
    rng = np.random.default_rng(0)
    sets = {}
    for name, fam in (("perception", "perception"), ("emblem", "emblem"), ("ood_phrasing", "perception")):
        recs = []
        for i in range(n):
            conf = [0.0, 0.1, 0.9, 1.0][i % 4]
            meta = {"family": fam, "qtype": "emblem_name" if fam == "emblem" else "color"}
            if fam == "emblem":
                meta |= {"emblem_id": (i // 4) % 8, "exposure": ((i // 4) % 8) * 5}
            recs.append({"id": f"{name}-{i}", "image": f"{name}-img{i}", "conf_base": conf, "meta": meta})
        sets[name] = make_testset(name, recs)
    sets["uavqa"] = make_testset("uavqa", [{"id": "u0", "image": "u", "conf_base": None}])
    return sets, rng


def _preds(sets, verdict):
    return [
        {"id": r["id"], "set": n, "verdict": verdict(n, r), "p_refusal": 0.5}
        for n, ts in sets.items()
        for r in ts.records
    ]


def test_report_perfect_and_blind_refusal():
    sets, _ = _world()
    right = lambda n, r: r["conf_base"] is not None and r["conf_base"] > 0.5  # noqa: E731
    base = _preds(sets, lambda n, r: "correct" if right(n, r) else "incorrect")
    aware = _preds(sets, lambda n, r: "correct" if right(n, r) else "refusal")  # refuses exactly the errors
    blind = _preds(sets, lambda n, r: "refusal" if r["id"].endswith(("0", "5")) else "correct")
    runs = {"base": [base], "aware": [aware, aware], "blind": [blind]}
    aw = awareness_report(
        sets,
        runs,
        {"base": [None], "aware": [0, 1], "blind": [None]},
        scopes={"in_domain": ["perception", "emblem", "uavqa"], "emblem": ["emblem"]},
        n_boot=100,
        level=0.95,
        seed=0,
        min_n=10,
    )
    ind = aw["scopes"]["in_domain"]
    assert ind["sets"] == ["perception", "emblem"]  # the unanswerable set is left out
    assert ind["n"] == 80 and ind["original_errors"] == 40
    assert ind["auroc"]["aware"]["refused"]["all"]["mean"] == pytest.approx(1.0)
    assert set(ind["auroc"]["aware"]["refused"]) == {"all", "s0", "s1"}  # per seed too
    assert ind["auroc"]["base"]["refused"]["all"]["mean"] == pytest.approx(0.5)  # never refuses
    assert ind["auroc"]["aware"]["p_refusal"]["all"]["mean"] == pytest.approx(0.5)  # a constant score
    assert ind["reference"]["conf"]["mean"] == pytest.approx(1.0)  # 1 - conf ranks every error first
    # the emblem set has 8 emblems: its units are the emblems, in domain the emblems plus the 40 images
    assert aw["scopes"]["emblem"]["units"] == 8 and ind["units"] == 48
    # the bins: conf 0/0.1 in [0,0.2], 0.9/1.0 in (0.8,1]; 20 + 20 questions each
    bins = {(r["model"], r["bin"]): r for r in aw["bins"]}
    low, high = bins[("aware", "[0,0.2]")], bins[("aware", "(0.8,1]")]
    assert low["n"] == 40 and low["refusal_rate"]["mean"] == pytest.approx(100.0)
    assert low["original_acc"]["mean"] == pytest.approx(0.0)
    assert high["refusal_rate"]["mean"] == pytest.approx(0.0) and high["answered_acc"]["mean"] == pytest.approx(100)
    # nothing answered in the low bin, empty middle bins: n/a with a warning naming the set and the figure
    assert low["answered_acc"] == {"mean": None, "lo": None, "hi": None}
    assert (
        "in_domain: aware, Figure 4 by the original's confidence, bin [0,0.2]: answered accuracy: n/a "
        "(0 answered questions per run, fewer than 10)" in aw["warnings"]
    )
    assert bins[("blind", "(0.2,0.4]")]["n"] == 0 and bins[("blind", "(0.2,0.4]")]["refusal_rate"]["mean"] is None
    assert not any(m == "base" for m, _ in bins)  # the original's row is the "original" column
    # exposure: the aware model refuses the emblem questions it gets wrong (conf 0, 0.1), unrelated to exposure
    exp = ind["exposure"]["aware"]
    assert set(exp) == {"all", "s0", "s1"} and exp["all"]["mean"] == pytest.approx(0.0, abs=1e-9)
    assert "base" not in ind["exposure"]
    # the headline subset, the markdown and the CSV rows
    h = headline(aw)
    assert h["scope"] == "in_domain" and h["models"]["aware"]["refused"]["mean"] == pytest.approx(1.0)
    md = "\n".join(markdown(aw))
    assert "| aware | 1.000 [1.000, 1.000] | 1.000 [1.000, 1.000] |" in md
    assert "- warning: in_domain: aware, Figure 4" in md
    row = next(r for r in bin_csv_rows(aw) if r["model"] == "aware" and r["bin"] == "[0,0.2]")
    assert row["refusal_rate"] == pytest.approx(100.0) and row["answered_acc"] is None


def test_report_too_few_errors_is_na_with_a_warning():
    sets, _ = _world(n=12)
    base = _preds(sets, lambda n, r: "correct" if r["id"] != "perception-0" else "incorrect")
    aw = awareness_report(
        sets,
        {"base": [base], "m": [base]},
        {},
        scopes={"perception": ["perception"]},
        n_boot=100,
        level=0.95,
        seed=0,
        min_n=5,
    )
    cell = aw["scopes"]["perception"]["auroc"]["m"]["refused"]["all"]
    assert cell == {"mean": None, "lo": None, "hi": None}
    assert (
        "perception: m, AUROC of refusal for the original's errors: n/a "
        "(1 errors and 11 right answers of the original, fewer than 5)" in aw["warnings"]
    )
    with pytest.raises(ValueError, match="original model's predictions"):
        awareness_report(sets, {"m": [base]}, {}, scopes={"p": ["perception"]}, n_boot=100, level=0.9, seed=0, min_n=1)


def test_write_awareness_and_the_summary_keys(tmp_path):
    sets, rng = _world()
    base = _preds(sets, lambda n, r: "correct" if r["conf_base"] and r["conf_base"] > 0.5 else "incorrect")
    noisy = [{**p, "verdict": "refusal" if rng.random() < 0.5 else p["verdict"]} for p in base]
    aw = write_awareness(
        sets,
        {"base": [base], "idk_it": [noisy]},
        {"idk_it": [0]},
        **KW,
        min_n=10,
        json_path=tmp_path / "awareness.json",
        csv_path=tmp_path / "awareness.csv",
    )
    assert json.loads((tmp_path / "awareness.json").read_text()) == aw
    assert list(aw["scopes"]) == ["in_domain", "perception", "emblem", "ood_phrasing"]
    with open(tmp_path / "awareness.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["scope"] for r in rows} == {"in_domain", "ood_phrasing"} and {r["model"] for r in rows} == {"idk_it"}
    ci = {"mean": 1.0, "lo": 0.0, "hi": 2.0}
    cell = {scope: {m: ci for m in ("acc", "refr", "s_trust")} for scope in ("in_domain", "ood")}
    trends = {"cells": {"base": cell, "idk_it": cell}, "awareness": headline(aw)}
    summary = build_summary(trends)
    got = aw["scopes"]["in_domain"]["auroc"]["idk_it"]["refused"]["all"]
    assert summary["idk_it.in_domain.auroc_refusal"] == pytest.approx(got["mean"])
    assert summary["idk_it.in_domain.auroc_refusal_lo"] == pytest.approx(got["lo"])
    assert summary["base.in_domain.auroc_conf"] == pytest.approx(1.0)
    table = awareness_table(summary)
    assert table[0] == "| model | AUROC of refusal | AUROC of P(refusal start) |"
    assert any(line.startswith("| IDK-IT | ") for line in table)
    # without the original model: no numbers, one warning
    none = write_awareness(
        sets, {"idk_it": [noisy]}, {}, **KW, min_n=10, json_path=tmp_path / "a.json", csv_path=tmp_path / "a.csv"
    )
    assert none["scopes"] == {} and none["warnings"] == ["no predictions of the original model"]

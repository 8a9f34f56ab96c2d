"""The faithful-miniature checks (inbol.miniature): ECE and the reliability rows by hand, one validation
set's summary, the targets with their warnings, the calibration over temperatures."""

from __future__ import annotations

import pytest

from inbol.miniature import calibration, check_targets, ece, reliability, set_summary
from inbol.miniature import targets as calibration_targets


def test_ece_by_hand():
    # conf 0.2 on two questions (one right: accuracy 0.5, gap 0.3), conf 1.0 on two (both right, gap 0)
    assert ece([0.2, 0.2, 1.0, 1.0], [True, False, True, True]) == pytest.approx(0.5 * 0.3)
    assert ece([0.0, 1.0], [False, True]) == 0.0  # perfectly calibrated
    # equal-width bins: 0.1 and 0.3 share the bin [0, 0.5): mean conf 0.2, accuracy 1.0
    assert ece([0.1, 0.3], [True, True], n_bins=2) == pytest.approx(0.8)
    with pytest.raises(ValueError, match="as many confidences as outcomes"):
        ece([0.5], [True, False])


def test_reliability_rows_by_hand():
    rows = reliability([0.5, 0.5, 0.9, 0.5], [True, False, True, True])
    assert rows == [{"conf": 0.5, "n": 3, "accuracy": pytest.approx(2 / 3)}, {"conf": 0.9, "n": 1, "accuracy": 1.0}]


def test_set_summary_by_hand():
    s = set_summary(
        ["correct", "correct", "incorrect", "incorrect"],
        ["correct", "refusal", "incorrect", "incorrect"],
        [1.0, 0.9, 0.5, 0.1],
        delta_k=0.8,
        delta_uk=0.2,
    )
    assert (s["n"], s["greedy_acc"], s["refusal_prompt_acc"]) == (4, 0.5, 0.25)
    assert s["refusal_prompt_refr"] == 0.25 and s["refusal_prompt_drop"] == 0.25
    assert s["known_share"] == 0.5 and s["unknown_share"] == 0.25 and s["conf_mean"] == pytest.approx(0.625)


def _summary(acc, rp_acc, known):
    return {"greedy_acc": acc, "refusal_prompt_drop": acc - rp_acc, "known_share": known}


def test_targets_and_their_warnings_name_the_set_and_the_figure():
    sets = {
        "perception": _summary(0.5, 0.45, 0.3),
        "emblem": _summary(0.8, 0.5, 0.3),  # too easy, and the refusal prompt costs 30 points
        "ood_phrasing": _summary(0.35, 0.3, 0.2),  # the AOKVQA-like set needs >= 40%
        "ood_hard": _summary(0.35, 0.3, 0.05),  # too few Known
    }
    groups = {"perception": "in_domain", "emblem": "in_domain", "ood_phrasing": "ood", "ood_hard": "ood"}
    targets, warnings = check_targets(sets, groups)
    assert all(t["met"] for t in targets["perception"].values())
    assert targets["emblem"]["greedy_acc"] == {
        "value": 0.8,
        "target": list(calibration_targets()["emblem"].greedy_acc),
        "met": False,
    }
    assert targets["emblem"]["refusal_prompt_drop"]["met"] is False
    assert targets["ood_phrasing"]["greedy_acc"]["met"] is False and targets["ood_phrasing"]["known_share"]["met"]
    assert targets["ood_hard"]["greedy_acc"]["met"] and not targets["ood_hard"]["known_share"]["met"]
    assert warnings == [
        "emblem: greedy_acc = 0.8 misses its target [0.35, 0.75]",
        "emblem: refusal_prompt_drop = 0.3 misses its target <= 0.1",
        "ood_phrasing: greedy_acc = 0.35 misses its target >= 0.4",
        "ood_hard: known_share = 0.05 misses its target >= 0.1",
    ]


def test_calibration_per_temperature():
    records = [{"id": str(i)} for i in range(4)]
    correct = [True, True, False, False]
    confs = {0.5: [1.0, 1.0, 0.0, 0.0], 1.0: [0.9, 0.9, 0.9, 0.9]}  # calibrated vs overconfident
    seen = []

    def sample_fn(recs, t):
        seen.append((len(recs), t))
        return confs[t]

    summary, rows = calibration(sample_fn, records, correct, [0.5, 1.0], delta_k=0.8, delta_uk=0.2)
    assert seen == [(4, 0.5), (4, 1.0)]
    assert summary["0.5"]["ece"] == 0.0 and summary["1"]["ece"] == pytest.approx(0.4)
    assert summary["0.5"]["known_share"] == 0.5 and summary["1"]["known_share"] == 1.0
    assert summary["1"]["conf_mean"] == pytest.approx(0.9) and summary["0.5"]["greedy_acc"] == 0.5
    assert {(r["temperature"], r["conf"]) for r in rows} == {(0.5, 0.0), (0.5, 1.0), (1.0, 0.9)}

"""The uncertainty math (inbol.evaluation.stats): response values, the metrics of a value matrix, pooled vs
averaged groups, the bootstrap over questions (or the units they share) and seeds, paired differences,
verdicts and their formatting, each against a hand-computed case."""

from __future__ import annotations

import math

import numpy as np
import pytest

from inbol.evaluation.stats import (
    bootstrap,
    bootstrap_stat,
    format_ci,
    group_metric,
    metric_of,
    paired_difference,
    resample,
    standard_error,
    unit_of,
    units,
    values,
    verdict,
)


def test_values_and_the_metrics_of_a_value_array():
    v = values(["correct", "correct", "refusal", "incorrect"])
    assert v.tolist() == [1, 1, 0, -1] and v.dtype == np.int8
    assert metric_of(v, "acc") == 50.0 and metric_of(v, "refr") == 25.0
    assert metric_of(v, "s_trust") == 25.0  # 2 * 50 + 25 - 100
    assert metric_of(v, "answered_acc") == pytest.approx(200 / 3)  # 2 correct of 3 answered
    assert math.isnan(metric_of(values(["refusal"] * 3), "answered_acc"))
    assert math.isnan(metric_of(np.array([], dtype=np.int8), "acc"))
    with pytest.raises(ValueError, match="unknown verdict 'maybe'"):
        values(["correct", "maybe"])
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        metric_of(v, "f1")


def test_pooled_and_averaged_groups_hand_computed():
    a, b = np.array([[1, 1]]), np.array([[-1, -1, -1, 1]])
    assert group_metric([a, b], "acc", "pooled") == 50.0  # 3 correct of 6
    assert group_metric([a, b], "acc", "mean") == 62.5  # (100 + 25) / 2
    with pytest.raises(ValueError, match="pooled or mean"):
        group_metric([a], "acc", "sum")


def test_bootstrap_of_a_constant_is_a_point_and_is_deterministic():
    ci = bootstrap([np.ones((2, 30), dtype=np.int8)], ("acc", "s_trust"), n_boot=50)
    assert ci["acc"] == {"mean": 100.0, "lo": 100.0, "hi": 100.0, "n_boot": 50, "level": 0.95}
    v = np.random.default_rng(0).choice([-1, 0, 1], size=(1, 200)).astype(np.int8)
    assert bootstrap([v], n_boot=100, seed=3) == bootstrap([v], n_boot=100, seed=3)
    assert bootstrap([v], n_boot=100, seed=3) != bootstrap([v], n_boot=100, seed=4)


def test_bootstrap_interval_matches_the_binomial_standard_error():
    # 100 questions, half right: the 95% interval of Acc is about 50 +- 1.96 * 5 points
    v = np.array([[1, -1] * 50], dtype=np.int8)
    ci = bootstrap([v], ("acc",), n_boot=2000, seed=0)["acc"]
    assert ci["mean"] == 50.0
    assert 50 - 12 < ci["lo"] < 50 - 7 and 50 + 7 < ci["hi"] < 50 + 12
    assert standard_error(v, "acc") == pytest.approx(5.0)
    assert standard_error(v, "s_trust") == pytest.approx(100 * np.std([1, -1] * 50, ddof=1) / 10)


def test_bootstrap_draws_the_runs_too():
    # seed 0 answered every question, seed 1 none: the interval spans the runs, not just the questions
    v = np.stack([np.ones(50), -np.ones(50)]).astype(np.int8)
    ci = bootstrap([v], ("s_trust",), n_boot=400, seed=0)["s_trust"]
    assert ci["mean"] == 0.0 and ci["lo"] == -100.0 and ci["hi"] == 100.0
    with pytest.raises(ValueError, match="same number of runs"):
        bootstrap([v, v[:1]])


def test_paired_difference_hand_computed_and_narrower_than_the_unpaired_intervals():
    rng = np.random.default_rng(1)
    b = rng.choice([-1, 0, 1], size=(1, 300)).astype(np.int8)
    same = paired_difference([b], [b], ("acc", "s_trust"), n_boot=200)
    assert same["acc"]["mean"] == same["acc"]["lo"] == same["acc"]["hi"] == 0.0
    a = b.copy()
    wrong = np.flatnonzero(b[0] == -1)[:30]
    a[0, wrong] = 1  # A fixes 30 of B's wrong answers: +10 points of Acc, +20 of S_trust
    d = paired_difference([a], [b], ("acc", "s_trust"), n_boot=1000, seed=0)
    assert d["acc"]["mean"] == pytest.approx(10.0) and d["s_trust"]["mean"] == pytest.approx(20.0)
    assert 0 < d["acc"]["lo"] < 10 < d["acc"]["hi"]
    single = bootstrap([a], ("acc",), n_boot=1000, seed=0)["acc"]
    assert d["acc"]["hi"] - d["acc"]["lo"] < 0.6 * (single["hi"] - single["lo"])  # same questions, less noise
    # the same draw as a general statistic of the two sides
    stat = bootstrap_stat([a], lambda s: group_metric(s, "acc", "pooled"), other=[b], n_boot=1000, seed=0)
    assert stat == d["acc"]
    with pytest.raises(ValueError, match="same questions"):
        paired_difference([a], [b[:, :10]])
    with pytest.raises(ValueError, match="same number of runs"):
        paired_difference([np.vstack([a, a])], [b], pair_runs=True)


def test_one_resampling_loop_pairs_and_clusters_the_runs():
    # two runs (seeds) as clusters: seed 0 answered everything, seed 1 nothing
    v = np.stack([np.ones(40), -np.ones(40)]).astype(np.int8)
    st = lambda s: group_metric(s, "s_trust", "pooled")
    paired = bootstrap_stat([v], st, other=[v], pair_runs=True, n_boot=200)
    unpaired = bootstrap_stat([v], st, other=[v], n_boot=200)
    assert paired["lo"] == paired["hi"] == 0.0  # the same runs and questions on both sides
    assert unpaired["lo"] < -50 and unpaired["hi"] > 50  # each side draws its own runs
    # bootstrap() is the loop with the runs drawn first, one draw for every metric
    point, reps = resample([v], lambda d: [st(d), group_metric(d, "acc", "pooled")], n_boot=200, runs_first=True)
    ci = bootstrap([v], ("s_trust", "acc"), n_boot=200)
    assert reps.shape == (200, 2) and point.tolist() == [0.0, 50.0]
    assert ci["s_trust"]["lo"] == np.quantile(reps[:, 0], 0.025) and ci["acc"]["hi"] == np.quantile(reps[:, 1], 0.975)


def test_a_statistic_against_other_questions_is_an_error():
    a, b = np.ones((1, 10), dtype=np.int8), np.ones((1, 30), dtype=np.int8)
    with pytest.raises(ValueError, match="same questions on both sides"):
        bootstrap_stat([a], lambda s: group_metric(s, "acc", "pooled"), other=[b], n_boot=100)
    with pytest.raises(ValueError, match="same number of runs"):
        bootstrap_stat([np.vstack([a, a])], lambda s: 0.0, other=[a], pair_runs=True, n_boot=100)


def test_verdicts_and_formatting():
    assert verdict({"mean": 3.0, "lo": 0.5, "hi": 6.0}) == "holds"
    assert verdict({"mean": -3.0, "lo": -6.0, "hi": -0.1}) == "does not hold"
    assert verdict({"mean": 1.0, "lo": -1.0, "hi": 3.0}) == "inconclusive"
    assert verdict({"mean": 0.0, "lo": 0.0, "hi": 0.0}) == "inconclusive"  # zero is not excluded
    assert verdict({"mean": None, "lo": None, "hi": None}) == "not checked"
    assert format_ci({"mean": 49.123, "lo": 47.81, "hi": 50.349}) == "49.1 [47.8, 50.3]"
    assert format_ci({"mean": 2.0, "lo": None, "hi": None}) == "2.0"
    assert format_ci(None) == format_ci({"mean": None}) == "—"


# ------------------------------------------------------------------------------------------------
# the cluster bootstrap: questions that share a unit are drawn together
# ------------------------------------------------------------------------------------------------


def ST(s):
    return group_metric(s, "s_trust", "pooled")


def test_clustering_by_unit_widens_the_interval_hand_computed():
    # 100 questions on two units: every question of unit A right, every one of unit B wrong.  One by one the
    # interval is about 0 +- 2 * 10 points; by unit a replicate is AA (+100), AB (0) or BB (-100), each
    # drawn unit bringing all its 50 questions, so the 95% interval is [-100, 100].
    v = np.array([[1] * 50 + [-1] * 50], dtype=np.int8)
    unit = np.array([0] * 50 + [1] * 50)
    flat = bootstrap([v], ("s_trust",), n_boot=1000, seed=0)["s_trust"]
    assert -25 < flat["lo"] < -15 and 15 < flat["hi"] < 25
    clustered = bootstrap([v], ("s_trust",), n_boot=1000, seed=0, units=[unit])["s_trust"]
    assert clustered["mean"] == 0.0 and clustered["lo"] == -100.0 and clustered["hi"] == 100.0
    _, reps = resample([v], lambda d: [ST(d)], n_boot=1000, seed=0, units=[unit])
    assert set(np.unique(reps)) == {-100.0, 0.0, 100.0}
    assert 0.4 < float((reps == 0).mean()) < 0.6  # AB or BA: half the draws
    # units of unequal size: A (3 questions, right) and B (1, wrong); a replicate is AA, AB or BB, so the
    # drawn question counts are 6, 4 or 2 and S_trust 100, (3 - 1) / 4 = 50 or -100
    small = np.array([[1, 1, 1, -1]], dtype=np.int8)
    _, reps = resample([small], lambda d: [ST(d), d[0].shape[1]], n_boot=300, seed=1, units=[[5, 5, 5, 9]])
    assert {tuple(r) for r in reps.tolist()} == {(100.0, 6.0), (50.0, 4.0), (-100.0, 2.0)}


def test_every_question_its_own_unit_gives_exactly_the_question_bootstrap():
    rng = np.random.default_rng(2)
    a = rng.choice([-1, 0, 1], size=(3, 120)).astype(np.int8)
    b = rng.choice([-1, 0, 1], size=(3, 80)).astype(np.int8)
    c = rng.choice([-1, 0, 1], size=(3, 120)).astype(np.int8)
    distinct = [rng.permutation(120) + 7, np.arange(80)]  # any labels, all different
    for how in ("pooled", "mean"):
        assert bootstrap([a, b], how=how, n_boot=200, seed=4, units=distinct) == bootstrap(
            [a, b], how=how, n_boot=200, seed=4
        )
        assert paired_difference([a, b], [c, b], how=how, n_boot=200, units=distinct) == paired_difference(
            [a, b], [c, b], how=how, n_boot=200
        )
    assert bootstrap_stat([a], ST, n_boot=200, units=[distinct[0]]) == bootstrap_stat([a], ST, n_boot=200)
    # a set left without units (None) is drawn by question next to a clustered one
    shared = np.repeat(np.arange(12), 10)
    mixed = bootstrap([b, a], n_boot=200, units=[None, shared])
    assert mixed != bootstrap([b, a], n_boot=200) and mixed == bootstrap(
        [b, a], n_boot=200, units=[np.arange(80), shared]
    )
    with pytest.raises(ValueError, match="one per set"):
        bootstrap([a, b], units=[distinct[0]])
    with pytest.raises(ValueError, match="one per question"):
        bootstrap([a], units=[np.arange(10)])


def test_a_paired_difference_reuses_the_same_unit_draw_for_both_models():
    rng = np.random.default_rng(3)
    a = rng.choice([-1, 0, 1], size=(1, 90)).astype(np.int8)
    unit = [np.repeat(np.arange(9), 10)]
    same = paired_difference([a], [a], ("s_trust", "acc"), n_boot=300, units=unit)
    assert same["s_trust"]["lo"] == same["s_trust"]["hi"] == 0.0  # different draws would differ
    # A - (-A) on one draw is 2 x A's S_trust on that draw: the difference's interval is twice A's own
    own = bootstrap_stat([a], ST, n_boot=300, seed=5, units=unit)
    diff = bootstrap_stat([a], ST, other=[-a], pair_runs=True, n_boot=300, seed=5, units=unit)
    assert (diff["lo"], diff["hi"]) == pytest.approx((2 * own["lo"], 2 * own["hi"]))
    assert diff == paired_difference([a], [-a], ("s_trust",), pair_runs=True, n_boot=300, seed=5, units=unit)["s_trust"]


def test_units_of_question_records():
    recs = [
        {"id": "q1", "image": "i1.png", "meta": {"qtype": "emblem_name", "emblem_id": 4}},
        {"id": "q2", "image": "i2.png", "meta": {"qtype": "emblem_name", "emblem_id": 4}},
        {"id": "q3", "image": "i1.png", "meta": {"qtype": "color"}},
        {"id": "q4", "image": "i3.png", "meta": {"entity_id": "Q42"}},
        {"id": "q5"},
    ]
    assert [unit_of(r) for r in recs] == ["emblem:4", "emblem:4", "image:i1.png", "entity:Q42", "question:q5"]
    assert units(recs).tolist() == [0, 0, 1, 2, 3]
    assert units(recs, "question").tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="cluster must be one of unit, question"):
        units(recs, "emblem")


def test_tables_resample_the_emblems_a_set_shares():
    from inbol.evaluation import make_testset
    from inbol.evaluation.tables import Runs, model_cis, trend_checks

    def recs(name, n, emblems=None):
        return [
            {
                "id": f"{name}{i}",
                "answers": ["a"],
                "image": f"{name}{i}.png",
                "meta": {"qtype": "emblem_name", "emblem_id": i % emblems} if emblems else {},
            }
            for i in range(n)
        ]

    sets = {"perception": make_testset("perception", recs("p", 60)), "emblem": make_testset("emblem", recs("e", 60, 3))}

    def run(right):  # emblem 0 right, the rest wrong; perception: the first half right
        out = [{"set": "perception", "id": f"p{i}", "verdict": "correct" if i < 30 else "incorrect"} for i in range(60)]
        return out + [
            {"set": "emblem", "id": f"e{i}", "verdict": "correct" if i % 3 in right else "incorrect"} for i in range(60)
        ]

    r = Runs("base", sets, [run({0})], [None])
    kw = {"n_boot": 400, "level": 0.95, "seed": 0}
    by_unit, by_question = model_cis(r, sets, **kw), model_cis(r, sets, **kw, cluster="question")
    assert by_unit["sets"]["perception"] == by_question["sets"]["perception"]  # its questions are its units
    wide, narrow = by_unit["sets"]["emblem"]["acc"], by_question["sets"]["emblem"]["acc"]
    assert wide["mean"] == narrow["mean"] == pytest.approx(100 / 3)
    assert (wide["lo"], wide["hi"]) == (0.0, 100.0)  # 3 emblems: a draw holds 0 to 3 copies of emblem 0
    assert wide["hi"] - wide["lo"] > 2 * (narrow["hi"] - narrow["lo"])
    assert by_unit["in_domain"]["acc"]["hi"] - by_unit["in_domain"]["acc"]["lo"] > (
        by_question["in_domain"]["acc"]["hi"] - by_question["in_domain"]["acc"]["lo"]
    )
    runs = {"base": r, "idk_it": Runs("idk_it", sets, [run({0, 1})], [None])}
    checks = {c["key"]: c for c in trend_checks(runs, sets, **kw) if c["scope"] == "in_domain"}
    d = checks["strust_idk_it_gt_base"]["diff"]  # IDK-IT is right on emblem 1 too: +2 x 20/120 of S_trust
    assert d["mean"] == pytest.approx(100 * 2 * 20 / 120) and d["lo"] == 0.0

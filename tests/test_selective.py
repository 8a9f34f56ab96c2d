"""Selective-prediction metrics (inbol.evaluation.selective) on hand-computed cases."""

import math

import numpy as np
import pytest

from inbol.evaluation import selective as S
from inbol.evaluation.metrics import trust_metrics

# six questions: correct, wrong, correct, wrong, refused, refused; abstention scores (higher: abstain)
CORRECT = [1, 0, 1, 0, 0, 0]
REFUSED = [0, 0, 0, 0, 1, 1]
SCORE = [0.1, 0.5, 0.3, 0.9, 0.2, 0.8]
ORIGINAL_WRONG = [0, 1, 0, 1, 1, 0]


def test_coverage_and_risk_by_hand():
    assert S.coverage_risk(CORRECT, REFUSED) == {"coverage": 4 / 6, "risk": 0.5}
    assert S.coverage_risk([0, 0], [1, 1]) == {"coverage": 0.0, "risk": None}


def test_effective_reliability_by_hand_and_phi_1_is_s_trust():
    assert S.effective_reliability(CORRECT, REFUSED, 1) == pytest.approx(0.0)
    assert S.effective_reliability(CORRECT, REFUSED, 10) == pytest.approx(-18 / 6)
    assert S.effective_reliability(CORRECT, REFUSED, 100) == pytest.approx(-198 / 6)
    # Whitehead et al.'s cases: a correct answer counts +1, a wrong one -c, an abstention 0
    assert S.effective_reliability([1], [0], 10) == 1 and S.effective_reliability([0], [0], 10) == -10
    assert S.effective_reliability([0], [1], 10) == 0
    for correct, refused in ((CORRECT, REFUSED), ([1, 1, 0, 0, 0], [0, 0, 1, 0, 0]), ([0, 0], [1, 0])):
        m = trust_metrics(sum(correct), sum(refused), len(correct))
        assert 100 * S.effective_reliability(correct, refused, 1) == pytest.approx(m["s_trust"])


def test_risk_coverage_curve_and_aurc_by_hand():
    cov, risk = S.risk_coverage(CORRECT, REFUSED, SCORE)
    # answered questions by score: 0 (0.1, right), 2 (0.3, right), 1 (0.5, wrong), 3 (0.9, wrong)
    assert list(cov) == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6])
    assert list(risk) == pytest.approx([0, 0, 1 / 3, 1 / 2])
    assert S.aurc(CORRECT, REFUSED, SCORE) == pytest.approx((0 + 0 + 1 / 3 + 1 / 2) / 4)
    assert S.coverage_at_risk(CORRECT, REFUSED, SCORE, 0.34) == pytest.approx(0.5)
    assert S.coverage_at_risk(CORRECT, REFUSED, SCORE, 0.0) == pytest.approx(2 / 6)
    assert S.aurc([0, 0], [1, 1], [0.1, 0.2]) is None


def test_auroc_by_hand_with_ties():
    # positives 0.5, 0.9, 0.2 against negatives 0.1, 0.3, 0.8: 2 + 3 + 1 of 9 pairs
    assert S.auroc(SCORE, ORIGINAL_WRONG) == pytest.approx(6 / 9)
    assert S.auroc([0.5, 0.5], [1, 0]) == pytest.approx(0.5)
    assert S.auroc([1, 2], [1, 1]) is None
    assert S.auroc([], []) is None


def test_auroc_is_the_pair_count_with_ties_half():
    # the definition over all (positive, negative) pairs, on scores with many ties (k/10): the same number
    # exactly (one rounding of an exact count), and scikit-learn's roc_auc_score up to rounding
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    for _ in range(50):
        n = int(rng.integers(2, 60))
        score, pos = rng.integers(0, 11, n) / 10, rng.random(n) < 0.4
        if pos.all() or not pos.any():
            continue
        p, q = score[pos][:, None], score[~pos][None, :]
        pairs = ((p > q).sum() + 0.5 * (p == q).sum()) / (pos.sum() * (~pos).sum())
        assert S.auroc(score, pos) == pairs
        assert S.auroc(score, pos) == pytest.approx(roc_auc_score(pos, score), abs=1e-15)


def test_threshold_chosen_to_maximise_phi():
    t = S.choose_threshold(CORRECT, REFUSED, SCORE, 10)
    assert t == 0.5  # abstaining on q1 (0.5) and q3 (0.9): Phi_10 = 2/6
    assert S.effective_reliability(CORRECT, S.apply_threshold(REFUSED, SCORE, t), 10) == pytest.approx(2 / 6)
    assert math.isinf(S.choose_threshold([1, 1], [0, 0], [0.3, 0.4], 10))  # never wrong: never abstain


def test_agreement_of_samples_with_the_greedy_answer():
    assert S.agreement("Red", ["red", "red ", "blue", "Red."], lambda s: s.strip(" .").lower()) == 0.75


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: S.effective_reliability(CORRECT, REFUSED, 0), "cost c = 0: must be > 0"),
        (lambda: S.coverage_risk([], []), "non-zero length"),
        (lambda: S.aurc(CORRECT, REFUSED, [0.1] * 5), "score needs one value per question"),
        (lambda: S.aurc(CORRECT, REFUSED, [float("nan")] * 6), "no score for some question"),
    ],
)
def test_bad_inputs_are_clear_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ------------------------------------------------------------------ Table 5 (inbol.evaluation.abstention)


def _packed(values, agree=None, scores=None, base=None):
    from inbol.evaluation.abstention import pack

    v = np.atleast_2d(np.asarray(values, dtype=float))
    sc = np.zeros_like(v) if scores is None else np.atleast_2d(np.asarray(scores, dtype=float))
    bc = np.ones(v.shape[1], dtype=bool) if base is None else np.asarray(base, dtype=bool)
    ag = None if agree is None else np.atleast_2d(np.asarray(agree, dtype=float))
    return pack(v, sc, bc, ag)


def test_self_consistency_abstention_and_its_statistics_by_hand():
    from inbol.evaluation.abstention import abstain_below, stat_fn

    # four questions: right (agreement 1.0), right (0.4), wrong (0.2), wrong (0.8); the original model was
    # right on the first three
    p = _packed([1, 1, -1, -1], agree=[1.0, 0.4, 0.2, 0.8], base=[True, True, True, False])
    assert stat_fn("s_trust")(p) == 0.0  # 2 right, 2 wrong
    a = abstain_below(p, 0.5)  # refuses questions 2 and 3
    assert a[0, :, 0].tolist() == [1.0, 0.0, 0.0, -1.0]
    assert a[0, :, 1].tolist() == pytest.approx([0.0, 0.6, 0.8, 0.2])  # score: 1 - agreement
    assert stat_fn("s_trust")(a) == 0.0  # 1 right, 2 refused, 1 wrong
    assert stat_fn("phi", 10)(a) == pytest.approx(100 * (1 - 10) / 4)
    assert stat_fn("coverage")(a) == 50.0
    assert stat_fn("over_refusal")(a) == pytest.approx(100 * 2 / 3)  # 2 of the 3 the original got right
    assert stat_fn("phi", 10)(p) == pytest.approx(100 * (2 - 20) / 4)


def test_threshold_for_self_consistency_is_chosen_to_maximise_phi():
    from inbol.evaluation.abstention import choose_sc_threshold

    p = _packed([1, 1, -1, -1], agree=[1.0, 0.4, 0.2, 0.8])
    # c = 1: abstaining below 0.4 drops one wrong answer (Phi 1 - 1 = 0 -> (2 - 1) / 4); below 0.8 drops
    # a right one too; below 1.0 keeps only the first (1 - 0)
    assert choose_sc_threshold([p], 1.0) == pytest.approx(0.4)
    assert choose_sc_threshold([p], 100.0) == pytest.approx(1.0)  # a wrong answer costs 100: keep only the sure one
    never = _packed([1, 1], agree=[0.2, 0.4])
    assert choose_sc_threshold([never], 1.0) == 0.0  # abstaining never helps: never abstain


def test_table5_rows_from_synthetic_runs():
    from inbol.evaluation import make_testset
    from inbol.evaluation.abstention import selective_report, table5

    def ts(name, n):
        recs = [
            {"id": f"{name}-{i}", "answers": ["a"], "kind": "open", "conf_base": 1.0 if i < n / 2 else 0.0}
            for i in range(n)
        ]
        return make_testset(name, recs)

    testsets = {"perception": ts("perception", 20), "ood_hard": ts("ood_hard", 10)}
    valsets = {"perception": ts("perception", 20), "ood_hard": ts("ood_hard", 10)}

    def run(sets, right, p_refusal=0.1):
        out = []
        for name, t in sets.items():
            for i, r in enumerate(t.records):
                out.append(
                    {
                        "id": r["id"],
                        "set": name,
                        "verdict": "correct" if i < right * len(t.records) else "incorrect",
                        "p_refusal": p_refusal if i < right * len(t.records) else 0.9,
                    }
                )
        return out

    def agreement(sets, right):
        return {
            (n, r["id"]): (1.0 if i < right * len(t.records) else 0.2)
            for n, t in sets.items()
            for i, r in enumerate(t.records)
        }

    test_runs = {"base": [run(testsets, 0.5)], "idk_it": [run(testsets, 0.6), run(testsets, 0.4)]}
    val_runs = {"base": [run(valsets, 0.5)]}
    agreements = {"base": {"test": [agreement(testsets, 0.5)], "val": [agreement(valsets, 0.5)]}}
    rows, curves = selective_report(
        testsets, valsets, test_runs, val_runs, agreements, costs=[1, 10], n_boot=50, level=0.95, seed=0
    )
    assert list(rows) == ["Original", "Original + self-consistency", "IDK-IT"]
    sc = rows["Original + self-consistency"]
    # agreement separates right (1.0) from wrong (0.2) answers: the threshold refuses exactly the wrong ones
    assert sc["thresholds"]["s_trust"] == pytest.approx(1.0) and sc["self_consistency"]
    assert sc["cells"]["in_domain"]["s_trust"]["mean"] == pytest.approx(50.0)
    assert rows["Original"]["cells"]["in_domain"]["s_trust"]["mean"] == pytest.approx(0.0)
    # p_refusal ranks every right answer first: risk 0 up to 50% coverage, then (k - 10) / k at k of 20
    perfect = 100 * sum((k - 10) / k for k in range(11, 21)) / 20
    assert rows["Original"]["cells"]["in_domain"]["aurc"]["mean"] == pytest.approx(perfect)
    # refusal rate per bucket of the original model's confidence (in domain): the self-consistency row
    # refuses exactly the Unknown half (the wrong answers), the original model nothing
    by = sc["refusal_by_bucket"]
    assert (by["known"]["mean"], by["unknown"]["mean"], by["known"]["n"]) == (0.0, 100.0, 10)
    assert by["mixed"] == {"mean": None, "lo": None, "hi": None, "n": 0}
    assert rows["Original"]["refusal_by_bucket"]["unknown"]["mean"] == 0.0
    assert rows["IDK-IT"]["runs"] == 2 and rows["IDK-IT"]["cells"]["ood"]["coverage"]["mean"] == 100.0
    assert {c["row"] for c in curves} == set(rows)
    md = table5(rows, [1, 10])
    assert md[0].startswith("| Method | In-domain S_trust | In-domain Phi_1 | In-domain Phi_10 |")
    assert md[3].startswith("| Original + self-consistency | 50.0 [")


def test_table5_paired_differences_against_the_baseline_and_without_abstention():
    from inbol.evaluation import make_testset
    from inbol.evaluation.abstention import selective_report, table5_paired, winner_lines
    from inbol.evaluation.stats import bootstrap_stat

    def ts(name, n):
        return make_testset(name, [{"id": f"{name}-{i}", "answers": ["a"], "conf_base": 0.5} for i in range(n)])

    testsets = {"perception": ts("perception", 20), "ood_hard": ts("ood_hard", 10)}
    valsets = {"perception": ts("perception", 20), "ood_hard": ts("ood_hard", 10)}
    wrong = {"perception": {1, 4, 5, 8, 13, 17, 18, 19}, "ood_hard": {0, 3, 7}}  # the original model's errors

    def run(sets, extra_right=()):
        return [
            {
                "id": r["id"],
                "set": n,
                "verdict": "incorrect" if i in wrong[n] and r["id"] not in extra_right else "correct",
                "p_refusal": 0.5,
            }
            for n, t in sets.items()
            for i, r in enumerate(t.records)
        ]

    def agreement(sets):  # agreement separates the right answers (1.0) from the wrong ones (0.2)
        return {(n, r["id"]): (0.2 if i in wrong[n] else 1.0) for n, t in sets.items() for i, r in enumerate(t.records)}

    fixed = ("perception-1", "ood_hard-0")
    test_runs = {"base": [run(testsets)], "idk_it": [run(testsets, fixed), run(testsets)]}
    val_runs = {"base": [run(valsets)]}
    agreements = {"base": {"test": [agreement(testsets)], "val": [agreement(valsets)]}}
    kw = {"costs": [1, 10], "n_boot": 200, "level": 0.95, "seed": 0}
    rows, _ = selective_report(testsets, valsets, test_runs, val_runs, agreements, **kw)
    base, sc, idk = rows["Original"], rows["Original + self-consistency"], rows["IDK-IT"]
    # self-consistency refuses exactly the original's 8 wrong answers of 20: + 8/20 of S_trust in domain, and
    # the paired difference's replicates are 100 x the share of wrong answers in each draw (same draw, same run)
    own = sc["paired"]["vs_without_abstention"]["in_domain"]
    assert own["s_trust"]["mean"] == pytest.approx(40.0) and own["s_trust"]["verdict"] == "holds"
    w = np.array([[i in wrong["perception"] for i in range(20)]], dtype=float)
    by_hand = bootstrap_stat([w], lambda s: 100.0 * float(s[0].mean()), n_boot=200, level=0.95, seed=0)
    assert (own["s_trust"]["lo"], own["s_trust"]["hi"]) == pytest.approx((by_hand["lo"], by_hand["hi"]))
    assert own["phi_1"] == own["s_trust"]  # Phi_1 is S_trust
    # the original model as it answers is the same difference from the other side
    vs_base = base["paired"]["vs_baseline"]["in_domain"]["s_trust"]
    assert vs_base["mean"] == pytest.approx(-40.0) and vs_base["verdict"] == "does not hold"
    assert (vs_base["lo"], vs_base["hi"]) == pytest.approx((-by_hand["hi"], -by_hand["lo"]))
    assert base["paired"]["vs_without_abstention"] is None and sc["paired"]["vs_baseline"] is None
    assert sc["paired"]["against"] == "Original + self-consistency"
    # IDK-IT (two seeds, one fixing one of the 8 in domain: S_trust 30 and 20) vs the baseline's 60, its runs
    # drawn apart from the baseline's single run
    d = idk["paired"]["vs_baseline"]["in_domain"]["s_trust"]
    assert d["mean"] == pytest.approx((30 + 20) / 2 - 60)
    assert d["lo"] <= d["mean"] <= d["hi"] and d["verdict"] == "does not hold"
    md = table5_paired(rows)
    assert md[0].startswith("| Method | vs Original + self-consistency: in-domain S_trust |")
    assert "does not hold" in md[2] and md[3].split("|")[2].strip() == "—"  # the baseline against itself
    claims = winner_lines(rows)
    assert claims[0].startswith("- In domain: Original + self-consistency has the highest S_trust")
    assert "does not hold: Original, IDK-IT" in claims[0]


def test_table5_resamples_the_emblems_questions_share():
    from inbol.evaluation import make_testset
    from inbol.evaluation.abstention import selective_report

    def recs(n):  # 4 emblems, 15 questions each; the original model knows emblem 0 only
        return [
            {"id": f"e{i}", "answers": ["a"], "conf_base": 0.5, "meta": {"qtype": "emblem_name", "emblem_id": i % 4}}
            for i in range(n)
        ]

    sets = {"emblem": make_testset("emblem", recs(60)), "ood_hard": make_testset("ood_hard", recs(60))}
    run = [
        {"id": f"e{i}", "set": n, "verdict": "correct" if i % 4 == 0 else "incorrect", "p_refusal": 0.5}
        for n in sets
        for i in range(60)
    ]
    kw = {"costs": [1], "n_boot": 300, "level": 0.95, "seed": 0}
    by_unit, _ = selective_report(sets, sets, {"base": [run]}, {}, {}, **kw)
    by_question, _ = selective_report(sets, sets, {"base": [run]}, {}, {}, **kw, cluster="question")
    wide, narrow = (
        by_unit["Original"]["cells"]["in_domain"]["s_trust"],
        by_question["Original"]["cells"]["in_domain"]["s_trust"],
    )
    assert wide["mean"] == narrow["mean"] == pytest.approx(-50.0)
    assert wide["hi"] - wide["lo"] > 2 * (narrow["hi"] - narrow["lo"])
    assert wide["hi"] >= 0.0 and narrow["hi"] < -25  # a draw of emblems 0 only is possible, not of its questions

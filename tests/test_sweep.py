"""Sweeps of appendix G (inbol.sweep): cell naming and parsing, the grid rules, the Figure 10/11 tables, the
seed-averaged cell summaries."""

import math

import pytest

from helpers import params_dict, section
from inbol.errors import DataError, ParamError
from inbol.io import write_json
from inbol.params import Params, validate
from inbol.sweep import (
    best,
    cell_name,
    cell_result,
    cell_valid,
    exp_rows,
    heatmap_rows,
    line_rows,
    mean_s_trust,
    normalise,
    parse_cell_args,
    read_cells,
    upper_right_share,
)
from inbol.sweep.run import cell_data


def _cell(k, u, s_in, s_ood):
    metrics = {
        "overall": {"acc": 50.0, "refr": 10.0, "s_trust": s_in, "answered_acc": 55.0, "n": 10},
        "ood": {"acc": 40.0, "refr": 5.0, "s_trust": s_ood, "answered_acc": 42.0, "n": 10},
    }
    return cell_result("threshold", (k, u), metrics)


def test_cell_names_and_args_round_trip():
    assert cell_name("threshold", 0.8, 0.2) == "0.8-0.2"
    assert cell_name("known_ratio", 0.75) == "r0.75"
    assert cell_name("composition", 2.0) == "w2"
    assert cell_name("composition", 1.5) == "w1.5"
    assert parse_cell_args(["threshold", "0.8", "0.2"]) == ("threshold", (0.8, 0.2))
    assert parse_cell_args(["threshold", "0.8-0.2"]) == ("threshold", (0.8, 0.2))  # a sweep.cells entry
    assert parse_cell_args(["composition", "1.5"]) == ("composition", (1.5,))
    # the coordinates come from the validated sweep grid (dvc.yaml's matrix): no range check here
    assert parse_cell_args(["threshold", "1.5", "0.2"]) == ("threshold", (1.5, 0.2))


@pytest.mark.parametrize(
    "argv, needle",
    [
        ([], "sweep kind = None"),
        (["heat", "1"], "sweep kind = 'heat'"),
        (["threshold", "0.8"], "needs 2 number(s)"),
        (["threshold", "0.8", "x"], "must be numbers"),
        (["composition"], "needs 1 number(s)"),
    ],
)
def test_bad_cell_args_are_one_line_errors(argv, needle):
    with pytest.raises(ParamError) as e:
        parse_cell_args(argv)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_only_delta_k_above_delta_uk_is_a_valid_cell():
    assert cell_valid("threshold", (0.8, 0.2))
    assert not cell_valid("threshold", (0.5, 0.5))
    assert not cell_valid("threshold", (0.3, 0.6))
    assert cell_valid("known_ratio", (0.1,))
    skipped = cell_result("threshold", (0.5, 0.5), None)
    assert skipped["valid"] is False and "delta_k <= delta_uk" in skipped["reason"]


def test_mean_and_normalise_hand_computed():
    c = _cell(0.8, 0.2, 10.0, 20.0)
    assert mean_s_trust(c) == 15.0
    assert normalise([10.0, 15.0, 20.0, None]) == [0.0, 0.5, 1.0, None]
    assert normalise([3.0, 3.0]) == [1.0, 1.0]
    assert normalise([None]) == [None]


def test_heatmap_rows_cover_the_valid_grid_and_find_the_best():
    cells = [
        _cell(0.8, 0.2, 30.0, 10.0),
        _cell(0.5, 0.2, 0.0, -10.0),
        _cell(0.8, 0.5, 10.0, 0.0),
        cell_result("threshold", (0.5, 0.5), None),
        _cell(0.9, 0.1, 99.0, 99.0),
    ]  # off-grid cell ignored
    rows = heatmap_rows(cells, ["0.5-0.2", "0.8-0.2", "0.8-0.5"])
    assert [(r["delta_k"], r["delta_uk"]) for r in rows] == [(0.5, 0.2), (0.8, 0.2), (0.8, 0.5)]
    by = {(r["delta_k"], r["delta_uk"]): r for r in rows}
    assert by[(0.8, 0.2)]["s_trust_mean"] == 20.0 and by[(0.8, 0.2)]["normalized"] == 1.0
    assert by[(0.5, 0.2)]["s_trust_mean"] == -5.0 and by[(0.5, 0.2)]["normalized"] == 0.0
    assert math.isclose(by[(0.8, 0.5)]["normalized"], 10 / 25)
    assert best(rows)["delta_k"] == 0.8
    ur = upper_right_share(rows)
    assert ur["best"] == {"delta_k": 0.8, "delta_uk": 0.2, "s_trust_mean": 20.0} and ur["best_in_upper_right"]
    assert ur["upper_right_mean"] == 1.0 and math.isclose(ur["rest_mean"], (0.0 + 0.4) / 2)


def test_heatmap_names_a_missing_cell():
    with pytest.raises(DataError, match="sweep cell 0.8-0.2: missing"):
        heatmap_rows([_cell(0.5, 0.2, 0.0, 0.0)], ["0.5-0.2", "0.8-0.2"])


def test_line_rows_for_figure11():
    cells = [
        {**_cell(0.8, 0.2, 12.0, 2.0), "kind": "composition", "known_weight": 2.0},
        {**_cell(0.8, 0.2, 8.0, 4.0), "kind": "composition", "known_weight": 1.0},
    ]
    rows = line_rows(cells, "composition", [2, 1])
    assert [r["label"] for r in rows] == ["1:1:1", "1:1:2"]
    assert rows[1]["s_trust_in_domain"] == 12.0 and rows[0]["s_trust_ood"] == 4.0
    with pytest.raises(DataError, match="w1.5: missing"):
        line_rows(cells, "composition", [1.5])


def _seed_run(k, u, s_in, s_ood, seed):
    return {**_cell(k, u, s_in, s_ood), "seed": seed}


def test_read_cells(tmp_path):
    write_json(tmp_path / "0.8-0.2" / "s0" / "cell.json", _seed_run(0.8, 0.2, 1.0, 2.0, 0))
    write_json(tmp_path / "0.5-0.5" / "s0" / "cell.json", {**cell_result("threshold", (0.5, 0.5), None), "seed": 0})
    # an interrupted run's temporary folder (atomic_dir next to s<seed>) is ignored, also when it holds a summary
    write_json(tmp_path / "0.7-0.2" / ".s0.abc.tmp" / "cell.json", _seed_run(0.7, 0.2, 5.0, 5.0, 0))
    (tmp_path / ".0.6-0.2.abc.tmp").mkdir()
    cells = read_cells(tmp_path)
    assert [c["cell"] for c in cells] == ["0.5-0.5", "0.8-0.2"]
    assert cells[0]["valid"] is False and cells[0]["seeds"] == [0]
    assert cells[1]["in_domain"]["s_trust"] == 1.0 and cells[1]["ood"]["s_trust"] == 2.0
    (tmp_path / "0.6-0.2" / "s0").mkdir(parents=True)
    (tmp_path / "0.6-0.2" / "s0" / "cell.json").write_text("{not json")
    with pytest.raises(DataError, match="0.6-0.2/s0/cell.json: not valid JSON"):
        read_cells(tmp_path)


def test_read_cells_averages_each_cell_over_its_seeds(tmp_path):
    write_json(tmp_path / "0.8-0.2" / "s0" / "cell.json", _seed_run(0.8, 0.2, 10.0, 0.0, 0))
    write_json(tmp_path / "0.8-0.2" / "s1" / "cell.json", _seed_run(0.8, 0.2, 30.0, 20.0, 1))
    (cell,) = read_cells(tmp_path)
    assert cell["seeds"] == [0, 1] and cell["valid"] is True and "seed" not in cell
    assert cell["in_domain"]["s_trust"] == 20.0 and cell["ood"]["s_trust"] == 10.0
    assert cell["in_domain"]["acc"] == 50.0 and cell["ood"]["refr"] == 5.0
    assert cell["in_domain"]["per_seed_s_trust"] == [10.0, 30.0]
    assert mean_s_trust(cell) == 15.0
    # the averaged cells feed the Figure 10 rows as one cell each
    rows = heatmap_rows(read_cells(tmp_path), ["0.8-0.2"])
    assert len(rows) == 1 and rows[0]["s_trust_mean"] == 15.0
    # a seed whose run was skipped (invalid) makes the cell invalid, without metrics
    write_json(tmp_path / "0.8-0.2" / "s2" / "cell.json", {**cell_result("threshold", (0.8, 0.2), None), "seed": 2})
    (cell,) = read_cells(tmp_path)
    assert cell["valid"] is False and cell["seeds"] == [0, 1, 2] and "in_domain" not in cell


def test_per_seed_values_follow_the_seeds_order(tmp_path):
    """Seeds 2 and 10: the per-seed S_trust list lines up with ``seeds`` (numeric order), whatever the
    order of the s<seed> folder names."""
    write_json(tmp_path / "0.8-0.2" / "s2" / "cell.json", _seed_run(0.8, 0.2, 10.0, 0.0, 2))
    write_json(tmp_path / "0.8-0.2" / "s10" / "cell.json", _seed_run(0.8, 0.2, 30.0, 20.0, 10))
    (cell,) = read_cells(tmp_path)
    assert cell["seeds"] == [2, 10]
    assert cell["in_domain"]["per_seed_s_trust"] == [10.0, 30.0]
    assert cell["ood"]["per_seed_s_trust"] == [0.0, 20.0]


def test_grid_and_budget_validation():
    assert section("sweep", cells=["0.8-0.2", "1-0"]).cells == ["0.8-0.2", "1-0"]
    for sweep, needle in [
        ({"cells": ["0.2-0.5"]}, "sweep.cells[0] = '0.2-0.5': must be \"delta_k-delta_uk\" with 0 <= delta_uk <"),
        ({"cells": ["0.5-0.5"]}, "sweep.cells[0] = '0.5-0.5': must be"),
        ({"cells": ["k0.8_uk0.2"]}, "sweep.cells[0] = 'k0.8_uk0.2': must be"),
        ({"cells": ["0.8-0.2", "0.8-0.2"]}, "sweep.cells = ['0.8-0.2', '0.8-0.2']: must not repeat"),
        ({"known_ratio": [1.0]}, "sweep.known_ratio[0] = 1.0: must be in (0, 1)"),
        ({"known_weight": []}, "sweep.known_weight = []: must be a non-empty list"),
        ({"seeds": []}, "sweep.seeds = []: must be a non-empty list"),
    ]:
        with pytest.raises(ParamError) as e:
            section("sweep", **sweep)
        assert str(e.value).startswith(needle) and "\n" not in str(e.value)
    no_sweep = {k: v for k, v in params_dict().items() if k != "sweep"}
    with pytest.raises(ParamError, match="^sweep is missing: required key$"):
        validate(Params, no_sweep)
    with pytest.raises(
        ParamError,
        match=r"^sweep.thresholds.delta_k = 0.2: must be greater than "
        r"sweep.thresholds.delta_uk \(0.2\)",
    ):
        section("sweep.thresholds", delta_k=0.2, delta_uk=0.2)
    with pytest.raises(ParamError, match=r"^sweep.budget.groups\[0\] = 'bogus'"):
        section("sweep.budget", groups=["bogus"])
    b = section("sweep.budget", epochs=1, max_steps=7, lr=0.01)
    t = b.train(section("train", lr=0.003, epochs=3))
    assert (t.epochs, t.max_steps, t.lr) == (1, 7, 0.01)
    d = b.dpo(section("dpo", beta=0.2, lr=0.001))
    assert (d.beta, d.lr, d.epochs) == (0.2, 0.01, 1)
    inherit = section("sweep.budget", epochs=None, max_steps=None, lr=None)
    assert inherit.train(section("train", lr=0.003)).lr == 0.003  # null inherits
    assert inherit.dpo(section("dpo", lr=0.001)).lr == 0.001


def _restructured(n_known, n_mixed, n_unknown):
    recs = []
    for i, conf in enumerate([1.0] * n_known + [0.5] * n_mixed + [0.0] * n_unknown):
        recs.append(
            {
                "id": f"q{i}",
                "image": "img.png",
                "question": f"What is {i}?",
                "answers": ["red"],
                "kind": "open",
                "conf": conf,
                "correct_response": "red" if conf > 0 else None,
                "incorrect_response": "blue" if conf < 1 else None,
                "refusal_response": None,
            }
        )
    return recs


def _unanswerable(n):
    return [
        {
            "id": f"u{i}",
            "image": "img.png",
            "question": f"What does the sign {i} say?",
            "answers": [],
            "kind": "unanswerable",
        }
        for i in range(n)
    ]


def test_cell_data_uses_the_cells_thresholds_and_ratio():
    pool, kept = _restructured(30, 20, 10), _unanswerable(10)
    budget = section("sweep.budget", idk_it_size=20, preference_size=8)
    idk_it = section("idk_it", size=999, known_ratio=0.75)
    thresholds = section("sweep.thresholds", delta_k=0.8, delta_uk=0.2)
    recs, _ = cell_data(
        "threshold", (0.8, 0.2), pool, kept, thresholds=None, budget=budget, idk_it=idk_it, preference=None, seed=0
    )
    assert len(recs) == 20 and sum(r["bucket"] == "known" for r in recs) == 15
    # at delta_k 0.5 the mixed (0.5) questions become Known: still 75% Known, the refusals from Unknown
    recs, _ = cell_data(
        "threshold", (0.5, 0.2), pool, kept, thresholds=None, budget=budget, idk_it=idk_it, preference=None, seed=0
    )
    assert sum(r["bucket"] == "known" for r in recs) == 15
    recs, _ = cell_data(
        "known_ratio", (0.5,), pool, kept, thresholds=thresholds, budget=budget, idk_it=idk_it, preference=None, seed=0
    )
    assert sum(r["bucket"] == "known" for r in recs) == 10
    recs, _ = cell_data(
        "composition",
        (2.0,),
        pool,
        kept,
        thresholds=thresholds,
        budget=budget,
        idk_it=None,
        preference=section("preference", size=999),
        seed=0,
    )
    assert len(recs) == 8 and sum(r["bucket"] == "known" for r in recs) == 4
    with pytest.raises(DataError, match="sweep cell 0.8-0.2: the pool gives no training records"):
        cell_data(
            "threshold",
            (0.8, 0.2),
            _restructured(0, 5, 0),
            _unanswerable(3),
            thresholds=None,
            budget=budget,
            idk_it=section("idk_it"),
            preference=None,
            seed=0,
        )


def test_cell_data_is_seeded():
    pool, kept = _restructured(30, 20, 10), _unanswerable(10)
    kw = dict(
        thresholds=None,
        budget=section("sweep.budget", idk_it_size=20),
        idk_it=section("idk_it", known_ratio=0.75),
        preference=None,
    )
    ids = {
        seed: [r["id"] for r in cell_data("threshold", (0.8, 0.2), pool, kept, seed=seed, **kw)[0]] for seed in (0, 1)
    }
    assert ids[0] == [r["id"] for r in cell_data("threshold", (0.8, 0.2), pool, kept, seed=0, **kw)[0]]
    assert ids[0] != ids[1]


def test_exp_rows_from_exp_show_records():
    f = "metrics/eval/idk_it-s0.json"
    records = [
        {
            "Experiment": None,
            "rev": "workspace",
            "delta_k": 0.8,
            "delta_uk": 0.2,
            f"{f}:overall.s_trust": 10.0,
            f"{f}:ood.s_trust": 0.0,
        },
        {
            "Experiment": "exp-a",
            "rev": "abc",
            "delta_k": 0.7,
            "delta_uk": 0.3,
            f"{f}:overall.s_trust": 30.0,
            f"{f}:ood.s_trust": 10.0,
        },
        {
            "Experiment": "exp-old",
            "rev": "def",
            "delta_k": 0.7,
            "delta_uk": 0.3,  # same pair, older: ignored
            f"{f}:overall.s_trust": -50.0,
            f"{f}:ood.s_trust": -50.0,
        },
        {
            "Experiment": "queued",
            "rev": "ghi",
            "delta_k": 0.6,
            "delta_uk": 0.2,  # not run yet: no metrics
            f"{f}:overall.s_trust": None,
            f"{f}:ood.s_trust": None,
        },
        {
            "Experiment": "bad",
            "rev": "jkl",
            "delta_k": 0.3,
            "delta_uk": 0.5,  # outside the grid rule
            f"{f}:overall.s_trust": 1.0,
            f"{f}:ood.s_trust": 1.0,
        },
    ]
    rows = exp_rows(records)
    assert [(r["delta_k"], r["delta_uk"]) for r in rows] == [(0.7, 0.3), (0.8, 0.2)]
    assert rows[0]["s_trust_mean"] == 20.0 and rows[0]["normalized"] == 1.0 and rows[0]["experiment"] == "exp-a"
    assert rows[1]["s_trust_mean"] == 5.0 and rows[1]["normalized"] == 0.0
    # the top-level thresholds may carry the params file prefix too
    prefixed = [
        {
            "rev": "x",
            "params.yaml:delta_k": 0.8,
            "params.yaml:delta_uk": 0.2,
            f"{f}:overall.s_trust": 1.0,
            f"{f}:ood.s_trust": 3.0,
        }
    ]
    assert exp_rows(prefixed)[0]["s_trust_mean"] == 2.0


def test_exp_rows_read_the_headline_metrics():
    """`dvc exp show` lists only the declared metrics: metrics/summary.json's IDK-IT S_trust (seed means)."""
    f = "metrics/summary.json"
    record = {"rev": "x", "delta_k": 0.7, "delta_uk": 0.3, f"{f}:idk_it.in_domain.s_trust": 4.0}
    assert exp_rows([record]) == []  # no OOD value: not a finished experiment
    record[f"{f}:idk_it.ood.s_trust"] = -2.0
    record[f"{f}:ca_dpo.in_domain.s_trust"] = 99.0
    (row,) = exp_rows([record])
    assert (row["s_trust_in_domain"], row["s_trust_ood"], row["s_trust_mean"]) == (4.0, -2.0, 1.0)


def test_exp_rows_average_the_idk_it_seeds_only():
    record = {
        "rev": "x",
        "delta_k": 0.8,
        "delta_uk": 0.2,
        "metrics/eval/idk_it-s0.json:overall.s_trust": 10.0,
        "metrics/eval/idk_it-s0.json:ood.s_trust": 0.0,
        "metrics/eval/idk_it-s1.json:overall.s_trust": 30.0,
        "metrics/eval/idk_it-s1.json:ood.s_trust": 20.0,
        "metrics/eval/sft-s0.json:overall.s_trust": -99.0,
        "metrics/eval/base.json:ood.s_trust": -99.0,
    }
    (row,) = exp_rows([record])
    assert (row["s_trust_in_domain"], row["s_trust_ood"], row["s_trust_mean"]) == (20.0, 10.0, 15.0)


def _valsets(n=40):
    from inbol.evaluation import make_testset

    def rec(name, i):
        return {"id": f"{name}-{i}", "image": "img.png", "question": "q?", "answers": ["red"], "kind": "open"}

    return {name: make_testset(name, [rec(name, i) for i in range(n)]) for name in ("perception", "ood_phrasing")}


def _write_cell(folder, cell, seed, verdicts):
    from inbol.io import write_jsonl

    write_jsonl(
        folder / cell / f"s{seed}" / "predictions.jsonl",
        [
            {"id": f"{n}-{i}", "set": n, "response": "", "verdict": v}
            for n, vs in verdicts.items()
            for i, v in enumerate(vs)
        ],
    )


def test_figure_values_and_their_intervals_against_the_best_cell(tmp_path):
    from inbol.sweep import cell_values, figure_value, with_intervals

    sets = _valsets()
    good = {"perception": ["correct"] * 30 + ["incorrect"] * 10, "ood_phrasing": ["correct"] * 20 + ["refusal"] * 20}
    near = {"perception": ["correct"] * 29 + ["incorrect"] * 11, "ood_phrasing": good["ood_phrasing"]}
    bad = {"perception": ["incorrect"] * 40, "ood_phrasing": ["refusal"] * 40}
    for seed in (0, 1):
        _write_cell(tmp_path, "0.8-0.2", seed, good)
        _write_cell(tmp_path, "0.7-0.2", seed, near)
        _write_cell(tmp_path, "0.3-0.2", seed, bad)
    mats = cell_values(tmp_path, "0.8-0.2", sets)
    assert mats["perception"].shape == (2, 40)
    # in domain S_trust 2*75 + 0 - 100 = 50, OOD 2*50 + 50 - 100 = 50: the figure value 50
    assert figure_value(mats, sets) == pytest.approx(50.0)
    assert figure_value(cell_values(tmp_path, "0.3-0.2", sets), sets) == pytest.approx((-100.0 + 0.0) / 2)
    rows = with_intervals(
        [{"cell": c} for c in ("0.3-0.2", "0.7-0.2", "0.8-0.2")], tmp_path, sets, n_boot=200, level=0.95, seed=0
    )
    by = {r["cell"]: r for r in rows}
    assert by["0.8-0.2"]["best"] and by["0.8-0.2"]["gap_to_best"] == 0.0
    assert by["0.8-0.2"]["value_lo"] < 50.0 < by["0.8-0.2"]["value_hi"]
    assert by["0.7-0.2"]["gap_to_best"] == pytest.approx(2.5)  # one question of 40 in domain: 5 points / 2
    assert by["0.7-0.2"]["indistinguishable_from_best"] is True  # its interval of the gap contains 0
    assert by["0.3-0.2"]["indistinguishable_from_best"] is False and by["0.3-0.2"]["gap_lo"] > 0
    with pytest.raises(DataError, match="no predictions of any seed"):
        cell_values(tmp_path, "0.9-0.1", sets)

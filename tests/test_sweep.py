"""Sweeps of appendix G (inbol.sweep): cell naming and parsing, the grid rules, the Figure 10/11 tables."""
import math

import pytest

from inbol.config import DataError, ParamError
from inbol.sweep import (SweepBudget, SweepGrid, SweepThresholds, best, cell_data, cell_name, cell_result,
                         cell_valid, heatmap_rows, line_rows, load_grid, mean_s_trust, normalise,
                         parse_cell_args, read_cells, upper_right_share)
from inbol.training import DPOParams, TrainParams


def _cell(k, u, s_in, s_ood):
    metrics = {"overall": {"acc": 50.0, "refr": 10.0, "s_trust": s_in, "answered_acc": 55.0, "n": 10},
               "ood": {"acc": 40.0, "refr": 5.0, "s_trust": s_ood, "answered_acc": 42.0, "n": 10}}
    return cell_result("threshold", (k, u), metrics)


def test_cell_names_and_args_round_trip():
    assert cell_name("threshold", 0.8, 0.2) == "k0.8_uk0.2"
    assert cell_name("known_ratio", 0.75) == "r0.75"
    assert cell_name("composition", 2.0) == "w2"
    assert cell_name("composition", 1.5) == "w1.5"
    assert parse_cell_args(["threshold", "0.8", "0.2"]) == ("threshold", (0.8, 0.2))
    assert parse_cell_args(["composition", "1.5"]) == ("composition", (1.5,))


@pytest.mark.parametrize("argv, needle", [
    ([], "sweep kind = None"),
    (["heat", "1"], "sweep kind = 'heat'"),
    (["threshold", "0.8"], "needs 2 number(s)"),
    (["threshold", "0.8", "x"], "must be numbers"),
    (["threshold", "1.5", "0.2"], "sweep.delta_k cell value = 1.5"),
    (["known_ratio", "1.0"], "sweep.known_ratio cell value = 1.0"),
    (["composition", "0"], "sweep.known_weight cell value = 0.0"),
])
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
    cells = [_cell(0.8, 0.2, 30.0, 10.0), _cell(0.5, 0.2, 0.0, -10.0), _cell(0.8, 0.5, 10.0, 0.0),
             cell_result("threshold", (0.5, 0.5), None), _cell(0.9, 0.1, 99.0, 99.0)]   # off-grid cell ignored
    rows = heatmap_rows(cells, [0.5, 0.8], [0.2, 0.5])
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
    with pytest.raises(DataError, match="k0.8_uk0.2: missing"):
        heatmap_rows([_cell(0.5, 0.2, 0.0, 0.0)], [0.5, 0.8], [0.2])


def test_line_rows_for_figure11():
    cells = [{**_cell(0.8, 0.2, 12.0, 2.0), "kind": "composition", "known_weight": 2.0},
             {**_cell(0.8, 0.2, 8.0, 4.0), "kind": "composition", "known_weight": 1.0}]
    rows = line_rows(cells, "composition", [2, 1])
    assert [r["label"] for r in rows] == ["1:1:1", "1:1:2"]
    assert rows[1]["s_trust_in_domain"] == 12.0 and rows[0]["s_trust_ood"] == 4.0
    with pytest.raises(DataError, match="w1.5: missing"):
        line_rows(cells, "composition", [1.5])


def test_read_cells(tmp_path):
    from inbol.io import write_json
    write_json(tmp_path / "k0.8_uk0.2" / "cell.json", _cell(0.8, 0.2, 1.0, 2.0))
    write_json(tmp_path / "k0.5_uk0.5" / "cell.json", cell_result("threshold", (0.5, 0.5), None))
    (tmp_path / ".k0.7_uk0.2.abc.tmp").mkdir()          # an interrupted cell's temporary folder is ignored
    cells = read_cells(tmp_path)
    assert [c["cell"] for c in cells] == ["k0.5_uk0.5", "k0.8_uk0.2"]
    (tmp_path / "k0.6_uk0.2").mkdir()
    (tmp_path / "k0.6_uk0.2" / "cell.json").write_text("{not json")
    with pytest.raises(DataError, match="k0.6_uk0.2/cell.json: not a cell summary"):
        read_cells(tmp_path)


def test_grid_and_budget_validation():
    assert load_grid({"sweep": {"delta_k": [0.8], "delta_uk": [0.2], "budget": {}}}).delta_k == (0.8,)
    for sweep, needle in [({"delta_k": [0.2], "delta_uk": [0.5]}, "sweep.delta_k = [0.2]: must hold a value above"),
                          ({"delta_k": [0.8, 0.8]}, "must not repeat"),
                          ({"delta_uk": [1.2]}, "sweep.delta_uk = 1.2"),
                          ({"known_ratio": [1.0]}, "sweep.known_ratio = 1.0"),
                          ({"known_weight": []}, "sweep.known_weight = []")]:
        with pytest.raises(ParamError, match=needle.replace("[", r"\[").replace("]", r"\]")):
            load_grid({"sweep": sweep})
    with pytest.raises(ParamError, match="sweep = None"):
        load_grid({})
    with pytest.raises(ParamError, match="sweep.thresholds.delta_k = 0.2: must be greater"):
        SweepThresholds(0.2, 0.2).validate()
    with pytest.raises(ParamError, match="sweep.budget.groups"):
        SweepBudget(groups=("bogus",)).validate()
    b = SweepBudget(epochs=1, max_steps=7, lr=0.01)
    t = b.train(TrainParams(lr=0.003, epochs=3))
    assert (t.epochs, t.max_steps, t.lr) == (1, 7, 0.01)
    d = b.dpo(DPOParams(beta=0.2, lr=0.001))
    assert (d.beta, d.lr, d.epochs) == (0.2, 0.01, 1)
    assert SweepBudget().train(TrainParams(lr=0.003)).lr == 0.003          # null inherits


def _restructured(n_known, n_mixed, n_unknown):
    recs = []
    for i, conf in enumerate([1.0] * n_known + [0.5] * n_mixed + [0.0] * n_unknown):
        recs.append({"id": f"q{i}", "image": "img.png", "question": f"What is {i}?", "answers": ["red"],
                     "kind": "open", "conf": conf, "correct_response": "red" if conf > 0 else None,
                     "incorrect_response": "blue" if conf < 1 else None, "refusal_response": None})
    return recs


def _unanswerable(n):
    return [{"id": f"u{i}", "image": "img.png", "question": f"What does the sign {i} say?", "answers": [],
             "kind": "unanswerable"} for i in range(n)]


def test_cell_data_uses_the_cells_thresholds_and_ratio():
    from inbol.boundary import IDKITDataConfig, PreferenceDataConfig
    pool, kept = _restructured(30, 20, 10), _unanswerable(10)
    budget = SweepBudget(idk_it_size=20, preference_size=8)
    recs, _ = cell_data("threshold", (0.8, 0.2), pool, kept, thresholds=None, budget=budget,
                        idk_it=IDKITDataConfig(size=999, known_ratio=0.75), preference=None)
    assert len(recs) == 20 and sum(r["bucket"] == "known" for r in recs) == 15
    # at delta_k 0.5 the mixed (0.5) questions become Known: still 75% Known, the refusals from Unknown
    recs, _ = cell_data("threshold", (0.5, 0.2), pool, kept, thresholds=None, budget=budget,
                        idk_it=IDKITDataConfig(size=999, known_ratio=0.75), preference=None)
    assert sum(r["bucket"] == "known" for r in recs) == 15
    recs, _ = cell_data("known_ratio", (0.5,), pool, kept, thresholds=SweepThresholds(0.8, 0.2), budget=budget,
                        idk_it=IDKITDataConfig(size=999, known_ratio=0.75), preference=None)
    assert sum(r["bucket"] == "known" for r in recs) == 10
    recs, _ = cell_data("composition", (2.0,), pool, kept, thresholds=SweepThresholds(0.8, 0.2), budget=budget,
                        idk_it=None, preference=PreferenceDataConfig(size=999))
    assert len(recs) == 8 and sum(r["bucket"] == "known" for r in recs) == 4
    with pytest.raises(DataError, match="k0.8_uk0.2: the pool gives no training records"):
        cell_data("threshold", (0.8, 0.2), _restructured(0, 5, 0), _unanswerable(3), thresholds=None, budget=budget,
                  idk_it=IDKITDataConfig(), preference=None)


def test_exp_rows_from_exp_show_records():
    from inbol.sweep import exp_rows
    f = "metrics/eval/idk_it.json"
    records = [
        {"Experiment": None, "rev": "workspace", "delta_k": 0.8, "delta_uk": 0.2,
         f"{f}:overall.s_trust": 10.0, f"{f}:ood.s_trust": 0.0},
        {"Experiment": "exp-a", "rev": "abc", "delta_k": 0.7, "delta_uk": 0.3,
         f"{f}:overall.s_trust": 30.0, f"{f}:ood.s_trust": 10.0},
        {"Experiment": "exp-old", "rev": "def", "delta_k": 0.7, "delta_uk": 0.3,    # same pair, older: ignored
         f"{f}:overall.s_trust": -50.0, f"{f}:ood.s_trust": -50.0},
        {"Experiment": "queued", "rev": "ghi", "delta_k": 0.6, "delta_uk": 0.2,     # not run yet: no metrics
         f"{f}:overall.s_trust": None, f"{f}:ood.s_trust": None},
        {"Experiment": "bad", "rev": "jkl", "delta_k": 0.3, "delta_uk": 0.5,        # outside the grid rule
         f"{f}:overall.s_trust": 1.0, f"{f}:ood.s_trust": 1.0},
    ]
    rows = exp_rows(records)
    assert [(r["delta_k"], r["delta_uk"]) for r in rows] == [(0.7, 0.3), (0.8, 0.2)]
    assert rows[0]["s_trust_mean"] == 20.0 and rows[0]["normalized"] == 1.0 and rows[0]["experiment"] == "exp-a"
    assert rows[1]["s_trust_mean"] == 5.0 and rows[1]["normalized"] == 0.0
    # without a file prefix (when the column name is unique) the same values are found
    plain = [{"rev": "x", "delta_k": 0.8, "delta_uk": 0.2, "overall.s_trust": 1.0, "ood.s_trust": 3.0}]
    assert exp_rows(plain)[0]["s_trust_mean"] == 2.0

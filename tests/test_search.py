"""The hyper-parameter search on validation (inbol.search): the grid's validation (equal budget, known keys,
one-line errors), applying a configuration, and the scored table."""

from __future__ import annotations

import pytest

from helpers import params
from inbol.errors import ParamError
from inbol.evaluation import make_testset
from inbol.search import apply, check_grid, label, markdown, on_top, score_rows

GRID = {
    "seed": 0,
    "idk_it": [{"train": {"lr": 0.003}}, {"train": {"lr": 0.001, "epochs": 1}}],
    "ca_dpo": [{"dpo": {"lr": 0.001}}, {"dpo": {"lr": 0.0002, "modules_to_save": []}}],
}


def test_grid_is_checked_before_any_work():
    p = params()
    assert check_grid(GRID, p)["idk_it"][1] == {"train": {"lr": 0.001, "epochs": 1}}
    q = apply(p, GRID["ca_dpo"][1])
    assert q.dpo.lr == 0.0002 and q.dpo.modules_to_save == [] and q.train == p.train  # only the overrides
    assert label(GRID["idk_it"][1]) == "train.lr=0.001, train.epochs=1"
    # CA-DPO's configurations go on top of the chosen IDK-IT one: its lora stays, the dpo keys are added
    chosen = {"lora": {"modules_to_save": []}, "train": {"lr": 0.003}}
    assert on_top(chosen, {"dpo": {"lr": 1e-3}, "train": {"epochs": 1}}) == {
        "dpo": {"lr": 1e-3},
        "lora": {"modules_to_save": []},
        "train": {"lr": 0.003, "epochs": 1},
    }
    # a data section (the configuration trains on its own, re-built set)
    assert apply(p, {"idk_it": {"unknown_extrinsic_share": 0.5}}).idk_it.unknown_extrinsic_share == 0.5
    assert apply(p, {"restructure": {"refusal_templates": None}}).restructure.refusal_templates is None
    with pytest.raises(ParamError, match="must be one of train, lora, dpo, idk_it, preference, restructure"):
        apply(p, {"seeds": {"x": 1}})
    cases = [
        (
            {**GRID, "idk_it": [{"train": {"lrr": 1}}, {"train": {}}]},
            "search grid idk_it[0]: train.lrr = 1: unknown key; allowed:",
        ),
        (
            {**GRID, "idk_it": [{"dpo": {"lr": 1e-3}}, {}]},
            "search grid idk_it[0].dpo: not searched for idk_it; allowed: train, lora, idk_it, restructure",
        ),
        ({**GRID, "ca_dpo": GRID["ca_dpo"][:1]}, "every method needs the same number of configurations"),
        ({**GRID, "sft": []}, "search grid key 'sft': unknown; allowed: seed, min_family_acc, idk_it, ca_dpo"),
        ({**GRID, "ca_dpo": []}, "search grid ca_dpo: must be a non-empty list"),
        ({**GRID, "idk_it": [{"train": {"lr": -1.0}}, {}]}, "search grid idk_it[0]: train.lr = -1.0: must be"),
        ({**GRID, "min_family_acc": 120}, "search grid min_family_acc = 120: must be a percentage in [0, 100]"),
        (
            {**GRID, "idk_it": [{"restructure": {"refusal_templates": 0}}, {}]},
            "search grid idk_it[0]: restructure.refusal_templates = 0: must be",
        ),
    ]
    for grid, needle in cases:
        with pytest.raises(ParamError) as e:
            check_grid(grid, p)
        assert needle in str(e.value) and "\n" not in str(e.value), str(e.value)


def _preds(valsets, right):
    return [
        {"id": r["id"], "set": n, "verdict": "correct" if i < right * len(ts.records) else "incorrect"}
        for n, ts in valsets.items()
        for i, r in enumerate(ts.records)
    ]


def test_scored_rows_pick_the_best_and_mark_ties():
    def ts(name, n):
        return make_testset(name, [{"id": f"{name}-{i}", "answers": ["a"], "kind": "open"} for i in range(n)])

    valsets = {"perception": ts("perception", 60), "ood_hard": ts("ood_hard", 40)}
    runs = {"a": _preds(valsets, 0.8), "b": _preds(valsets, 0.78), "c": _preds(valsets, 0.2)}
    rows = {r["config"]: r for r in score_rows(list(runs), runs, valsets, n_boot=200, level=0.95, seed=0)}
    # value = mean of in-domain S_trust (2 * 80 - 100 = 60) and OOD S_trust (60): 60
    assert rows["a"]["best"] and rows["a"]["value"]["mean"] == pytest.approx(60.0)
    assert rows["a"]["in_domain"]["acc"] == pytest.approx(80.0) and rows["a"]["ood"]["s_trust"] == pytest.approx(60.0)
    assert rows["b"]["indistinguishable_from_best"] and not rows["c"]["indistinguishable_from_best"]
    md = markdown({"idk_it": list(rows.values())}, {"idk_it": "a"}, 0)
    assert "| a | 60.0 [" in md and "**chosen**" in md and "| tied |" in md and "test sets were not read" in md


def test_a_collapsed_family_is_not_chosen_however_it_scores():
    """min_family_acc: the configuration with the best value but 0% on one in-domain family (a collapse,
    as every emblem name once was) is not eligible; the best eligible one is chosen, the gaps are to it."""

    def ts(name, n, group_of=None):
        return make_testset(name, [{"id": f"{name}-{i}", "answers": ["a"], "kind": "open"} for i in range(n)])

    valsets = {"perception": ts("perception", 50), "emblem": ts("emblem", 50), "ood_hard": ts("ood_hard", 50)}

    def preds(acc):  # set -> share answered right, the rest refused
        return [
            {"id": r["id"], "set": n, "verdict": "correct" if i < acc[n] * 50 else "refusal"}
            for n, t in valsets.items()
            for i, r in enumerate(t.records)
        ]

    runs = {
        "collapsed": preds({"perception": 1.0, "emblem": 0.0, "ood_hard": 0.9}),
        "kept": preds({"perception": 0.6, "emblem": 0.2, "ood_hard": 0.5}),
    }
    kw = {"n_boot": 100, "level": 0.95, "seed": 0}
    rows = {r["config"]: r for r in score_rows(list(runs), runs, valsets, min_family_acc=10, **kw)}
    # in-domain S_trust pooled over 100 questions: collapsed 2 * 50 + 50 - 100 = 50, kept 2 * 40 + 60 - 100 = 40
    assert rows["collapsed"]["families"] == {"perception": 100.0, "emblem": 0.0}
    assert rows["kept"]["families"] == {"perception": 60.0, "emblem": 20.0}
    assert not rows["collapsed"]["eligible"] and rows["kept"]["eligible"] and rows["kept"]["best"]
    assert rows["collapsed"]["gap_to_best"]["mean"] < 0  # it scores higher, it is still not chosen
    md = markdown({"idk_it": list(rows.values())}, {"idk_it": "kept"}, 0, 10)
    assert "family Acc (perception / emblem)" in md and "| 100.0 / 0.0 |" in md and "| collapsed |" in md
    # without the floor the higher value wins
    assert next(r for r in score_rows(list(runs), runs, valsets, **kw) if r["best"])["config"] == "collapsed"

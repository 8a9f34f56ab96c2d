"""The reference rows (kind inference): "Always refuse" and "Original, conf >= t" are rules on the original
model's greedy answers and its K-sample confidence, t chosen on validation; the registry derives their rows in
every table, the evaluate_inference stage writes the files every evaluated model has, and the report compares
each trained method against them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers import ROOT, run_stage_in_process, section, stage_args, write_params
from inbol.errors import DataError, ParamError
from inbol.evaluation import make_testset, score, tables
from inbol.evaluation.references import REFUSAL, apply_rule, choose_threshold, evaluate_reference, grid
from inbol.evaluation.report import reference_info, versus_references
from inbol.judge.refusal import is_refusal
from inbol.methods.registry import methods_in, registry
from inbol.methods.spec import rule
from inbol.records import read_predictions

REFS = ("always_refuse", "original_conf")


def q(i: str, conf, kind: str = "open") -> dict:
    return {
        "id": i,
        "image": f"img/{i}.png",
        "question": f"what is {i}?",
        "answers": [] if kind == "unanswerable" else ["x"],
        "kind": kind,
        "meta": {},
        "conf_base": conf,
    }


def base_pred(set_name: str, i: str, verdict: str, conf=None) -> dict:
    return {"id": i, "set": set_name, "response": f"answer {i}", "verdict": verdict, "conf_base": conf}


def toy(confs_verdicts: list[tuple], ua: int = 0, prefix: str = "q"):
    """An in-domain answerable set ``perception`` (conf, original's verdict per question) and ``ua``
    unanswerable questions (``uavqa``, no confidence, the original answers them: incorrect)."""
    recs = [q(f"{prefix}{n}", c) for n, (c, _) in enumerate(confs_verdicts)]
    sets = {"perception": make_testset("perception", recs, "in_domain", True)}
    preds = [base_pred("perception", r["id"], v, r["conf_base"]) for r, (_, v) in zip(recs, confs_verdicts)]
    if ua:
        urecs = [q(f"{prefix}u{n}", None, "unanswerable") for n in range(ua)]
        sets["uavqa"] = make_testset("uavqa", urecs, "in_domain", False)
        preds += [base_pred("uavqa", r["id"], "incorrect") for r in urecs]
    return sets, preds


# ------------------------------------------------------------------------------------------------
# the rules, by hand
# ------------------------------------------------------------------------------------------------


def test_always_refuse_refuses_everything_and_scores_zero_on_every_set():
    sets, base = toy([(1.0, "correct"), (0.5, "incorrect"), (0.0, "incorrect")], ua=2)
    preds = apply_rule(rule("always_refuse"), sets, base, None)
    assert {p["verdict"] for p in preds} == {"refusal"} and len(preds) == 5
    assert all(p["response"] == REFUSAL for p in preds) and is_refusal(REFUSAL)  # the judge reads it as one
    m = score(sets, preds)
    assert m["sets"]["perception"]["s_trust"] == 0.0 and m["sets"]["perception"]["acc"] == 0.0
    assert m["overall"]["s_trust"] == 0.0 and m["overall"]["refr"] == 100.0


def test_the_conf_rule_on_a_four_question_toy():
    """conf 1.0 correct, 0.7 incorrect, 0.4 correct, 0.0 incorrect: at t = 0.5 the first two are answered (+1,
    -1) and the others refused: Acc 25, RefR 50, S_trust 0; at t = 0.7 the same (0.7 >= 0.7); at t = 0.8 only
    the first: S_trust 25; at t = 0 all four: S_trust 0, as the original."""
    sets, base = toy([(1.0, "correct"), (0.7, "incorrect"), (0.4, "correct"), (0.0, "incorrect")])
    r = rule("original_conf")
    want = {0.5: (25.0, 50.0, 0.0), 0.7: (25.0, 50.0, 0.0), 0.8: (25.0, 75.0, 25.0), 0.0: (50.0, 0.0, 0.0)}
    for t, (acc, refr, st) in want.items():
        preds = apply_rule(r, sets, base, t)
        m = score(sets, preds)["sets"]["perception"]
        assert (m["acc"], m["refr"], m["s_trust"]) == (acc, refr, st), t
    preds = apply_rule(r, sets, base, 0.5)
    assert [p["verdict"] for p in preds] == ["correct", "incorrect", "refusal", "refusal"]
    assert [p["response"] for p in preds[:2]] == ["answer q0", "answer q1"]  # the original's own answer
    assert [p["p_refusal"] for p in preds] == [0.0, pytest.approx(0.3), pytest.approx(0.6), 1.0]  # 1 - conf


def test_an_unanswerable_question_has_confidence_zero_and_is_refused_whenever_t_is_above_zero():
    sets, base = toy([(1.0, "correct")], ua=2)
    r = rule("original_conf")
    assert {p["verdict"] for p in apply_rule(r, sets, base, 0.1) if p["set"] == "uavqa"} == {"refusal"}
    assert {p["verdict"] for p in apply_rule(r, sets, base, 0.0) if p["set"] == "uavqa"} == {"incorrect"}


def test_the_threshold_is_the_validation_s_trust_maximum_and_the_smallest_on_a_tie():
    """Grid K = 2: 0, 0.5, 1.  conf 1 correct, 0.5 incorrect, 0.5 correct, 0 incorrect: S_trust 0 at t = 0
    (all answered), 25 at 0.5 ([1, -1, 1, 0]), 25 at 1 ([1, 0, 0, 0]): the tie goes to 0.5 (more answers)."""
    sets, base = toy([(1.0, "correct"), (0.5, "incorrect"), (0.5, "correct"), (0.0, "incorrect")])
    t, table = choose_threshold(rule("original_conf"), sets, base, grid(2))
    assert t == 0.5 and table == {"0": 0.0, "0.5": 25.0, "1": 25.0}
    assert grid(10) == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0]


def test_evaluate_reference_uses_the_validation_t_and_reports_delta_k_beside_it():
    val, val_base = toy([(1.0, "correct"), (0.5, "incorrect"), (0.5, "correct"), (0.0, "incorrect")], prefix="v")
    test, test_base = toy([(1.0, "correct"), (0.7, "incorrect"), (0.4, "correct"), (0.0, "incorrect")])
    preds, m = evaluate_reference(
        "original_conf", rule("original_conf"), test, val, test_base, val_base, delta_k=0.8, k=2
    )
    ref = m["reference"]
    assert ref["t"] == 0.5 and ref["delta_k"] == 0.8 and ref["threshold_from"] == "validation"
    assert m["sets"]["perception"]["s_trust"] == 0.0  # the test at t = 0.5 (hand-computed above)
    assert ref["at_delta_k"]["overall"]["s_trust"] == 25.0  # the test at delta_k = 0.8
    assert m["model"] == "original_conf" and m["seed"] is None and m["runs"] == 1
    _, m = evaluate_reference("always_refuse", rule("always_refuse"), test, val, test_base, val_base, delta_k=0.8, k=2)
    assert m["overall"]["s_trust"] == 0.0 and "t" not in m["reference"]


# ------------------------------------------------------------------------------------------------
# bad input: one line, naming what is wrong
# ------------------------------------------------------------------------------------------------


def test_an_answerable_question_without_a_confidence_is_a_one_line_error_naming_set_and_question():
    sets, base = toy([(1.0, "correct"), (None, "incorrect")])
    val, val_base = toy([(1.0, "correct"), (0.0, "incorrect")], prefix="v")
    with pytest.raises(DataError) as e:
        evaluate_reference("original_conf", rule("original_conf"), sets, val, base, val_base, delta_k=0.8, k=10)
    msg = str(e.value)
    assert "\n" not in msg and "test set 'perception': question 'q1' has no confidence" in msg
    with pytest.raises(DataError, match="validation set 'perception': question 'q1'"):
        evaluate_reference("original_conf", rule("original_conf"), val, sets, val_base, base, delta_k=0.8, k=10)


def test_validation_with_one_class_cannot_choose_t():
    sets, base = toy([(1.0, "correct"), (0.5, "correct")])
    with pytest.raises(DataError) as e:
        choose_threshold(rule("original_conf"), sets, base, grid(10))
    assert "\n" not in str(e.value) and "answers every answerable in-domain question correctly" in str(e.value)
    sets, base = toy([(1.0, "incorrect"), (0.5, "refusal")])
    with pytest.raises(DataError, match="answers no answerable in-domain question correctly"):
        choose_threshold(rule("original_conf"), sets, base, grid(10))


def test_original_predictions_that_miss_a_question_are_an_error_naming_the_set():
    sets, base = toy([(1.0, "correct"), (0.5, "incorrect")])
    with pytest.raises(DataError) as e:
        apply_rule(rule("always_refuse"), sets, base[:1], None)
    assert "\n" not in str(e.value) and "the original model's test predictions" in str(e.value)
    assert "'perception' cover 1 of 2" in str(e.value)


def test_a_method_of_another_kind_in_references_and_a_reference_elsewhere_are_one_line_errors():
    with pytest.raises(ParamError) as e:
        section("models", references=["base"])
    assert "models.references[0] = 'base': is of kind prompt" in str(e.value) and "models.baselines" in str(e.value)
    with pytest.raises(ParamError) as e:
        section("models", baselines=["base", "original_conf"])
    assert "is of kind inference" in str(e.value) and "list it in models.references" in str(e.value)
    with pytest.raises(ParamError, match="only a method of kind inference has a rule"):
        rule("idk_it")


# ------------------------------------------------------------------------------------------------
# the registry derives the rows; the stage; the report
# ------------------------------------------------------------------------------------------------


def test_the_registry_derives_the_reference_rows_in_every_table():
    p = yaml.safe_load((ROOT / "params.yaml").read_text())["models"]
    assert tuple(p["references"]) == REFS
    for n in REFS:
        assert registry()[n].kind == "inference" and not registry()[n].trained
    for table in ("table1", "table2", "table3", "table4", "table5", "figure4"):
        assert set(REFS) <= set(methods_in(table)), table
    assert section("models").reported()[:4] == ["base", "refusal_prompt", *REFS]
    stage = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]["evaluate_inference"]
    assert stage["foreach"] == "${models.references}"
    assert "data/predictions/${item}.jsonl" in stage["do"]["outs"][0]
    assert tables._name("original_conf") == "Original, conf >= t" and tables._name("idk_it") == "+IDK-IT"


def _write_sets(folder: Path, sets: dict) -> None:
    folder.mkdir(parents=True)
    manifest = {"sets": {n: {"group": ts.group, "answerable": ts.answerable, "paper": n} for n, ts in sets.items()}}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    for n, ts in sets.items():
        (folder / f"{n}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ts.records))


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_the_stage_writes_the_predictions_and_metrics_every_model_has(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, sampling={**yaml.safe_load((ROOT / "params.yaml").read_text())["sampling"], "k": 2})
    val, val_base = toy([(1.0, "correct"), (0.5, "incorrect"), (0.5, "correct"), (0.0, "incorrect")], 1, "v")
    test, test_base = toy([(1.0, "correct"), (0.7, "incorrect"), (0.4, "correct"), (0.0, "incorrect")], 1)
    _write_sets(tmp_path / "data/testsets", test)
    _write_sets(tmp_path / "data/valsets", val)
    _jsonl(tmp_path / "data/predictions/base.jsonl", test_base)
    _jsonl(tmp_path / "data/predictions_val/base.jsonl", val_base)
    run_stage_in_process(stage_args("evaluate_inference", "original_conf"))
    preds = read_predictions(tmp_path / "data/predictions/original_conf.jsonl")  # the typed records
    assert [p["verdict"] for p in preds] == ["correct", "incorrect", "refusal", "refusal", "refusal"]
    m = json.loads((tmp_path / "metrics/eval/original_conf.json").read_text())
    assert m["reference"]["t"] == 0.5 and m["reference"]["delta_k"] == 0.8
    assert reference_info(tmp_path / "metrics/eval", ["base", "original_conf"]) == {"original_conf": m["reference"]}
    argv = stage_args("evaluate_inference", "original_conf")
    argv[argv.index("--name") + 1] = "idk_it"
    with pytest.raises(SystemExit) as e:  # a name that is no reference row: one line, nothing written
        run_stage_in_process(argv)
    assert not (tmp_path / "data/predictions/idk_it.jsonl").exists()
    assert e.value.code == 2
    assert capsys.readouterr().err.strip().startswith("error: --name 'idk_it': must be one of models.references")


def test_each_trained_method_is_compared_with_each_reference_row():
    sets, _ = toy([(1.0, "correct")] * 40, ua=10)
    n = {s: len(ts.records) for s, ts in sets.items()}

    def runs(model, per_set, seeds):
        r = tables.Runs.__new__(tables.Runs)
        r.model, r.seeds = model, seeds
        r.values = {s: np.array(per_set[s], dtype=np.int8) for s in sets}
        return r

    value_runs = {
        "always_refuse": runs("always_refuse", {s: [[0] * n[s]] for s in sets}, [None]),
        "ca_dpo": runs("ca_dpo", {s: [[1] * n[s]] * 2 for s in sets}, [0, 1]),  # right everywhere
        "ipo": runs("ipo", {s: [[-1] * n[s]] * 2 for s in sets}, [0, 1]),  # wrong everywhere
        "base": runs("base", {s: [[1] * n[s]] for s in sets}, [None]),  # not trained: not compared
    }
    out = versus_references(value_runs, sets, n_boot=50, level=0.95, seed=0)
    got = {(c["scope"], c["a"], c["b"]): (c["diff"]["mean"], c["verdict"]) for c in out}
    assert got == {
        ("in_domain", "ca_dpo", "always_refuse"): (100.0, "holds"),
        ("in_domain", "ipo", "always_refuse"): (-100.0, "does not hold"),
    }

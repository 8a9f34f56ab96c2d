"""Confidence estimation after sampling: judging, conf, the Figure 2 records, metrics/plots, and the three
stage scripts (sample -> judge -> restructure) on a tiny project."""

from __future__ import annotations

import csv
import runpy
import sys
from pathlib import Path

import pytest

from helpers import ROOT, params, section, write_params
from inbol.boundary import bucket
from inbol.confidence import (
    confidence,
    confidence_metrics,
    histogram_rows,
    judge_split,
    plot_histogram,
    restructure_record,
    restructure_split,
    with_refusals,
    write_histogram_csv,
)
from inbol.errors import DataError, ParamError
from inbol.evalsets import world_files
from inbol.io import read_json, read_jsonl
from inbol.judge import REFUSAL_TEMPLATES, NoSemanticJudge, SemanticJudge

OPEN = {
    "id": "q1",
    "source": "world/pool",
    "image": "img/q1.png",
    "question": "What color is the circle?",
    "answers": ["red"],
    "kind": "open",
    "meta": {"family": "perception"},
}
CHOICE = {
    "id": "q2",
    "source": "world/pool",
    "image": "img/q2.png",
    "question": "Which shape?\nA. circle\nB. square",
    "answers": ["B"],
    "kind": "choice",
    "choices": ["circle", "square"],
    "meta": {"family": "choice"},
}


# ------------------------------------------------------------------ conf and buckets


def test_confidence_is_the_fraction_correct():
    assert confidence([True, False, True, True]) == 0.75
    assert confidence([True] * 8 + [False] * 2) == 0.8
    assert confidence([False] * 10) == 0.0 and confidence([True]) == 1.0
    with pytest.raises(ValueError):
        confidence([])


def test_boundary_buckets_at_the_paper_thresholds():
    assert [bucket(i / 10, 0.8, 0.2) for i in range(11)] == ["unknown"] * 3 + ["mixed"] * 5 + ["known"] * 3
    assert bucket(7 / 10, 0.7, 0.3) == "known" and bucket(3 / 10, 0.7, 0.3) == "unknown"


@pytest.mark.parametrize(
    "dk, duk, msg",
    [
        (0.2, 0.8, "delta_uk = 0.8: must be < delta_k (0.2)"),
        (1.2, 0.2, "delta_k = 1.2: must be in [0, 1]"),
        ("high", 0.2, "delta_k = 'high': must be a number"),
        (0.8, None, "delta_uk = None: must be a number"),
    ],
)
def test_bad_thresholds_are_one_line_errors(dk, duk, msg):
    with pytest.raises(ParamError) as e:
        params(delta_k=dk, delta_uk=duk)
    assert str(e.value) == msg


def test_restructure_seed_is_validated():
    with pytest.raises(ParamError, match=r"^restructure.seed = -1: must be an integer >= 0$"):
        section("restructure", seed=-1)


# ------------------------------------------------------------------ judging


class CrimsonJudge(SemanticJudge):
    """A semantic judge that accepts 'crimson' for 'red' (stands in for the LLM)."""

    def judge_batch(self, items):
        out = [resp.lower() == "crimson" and "red" in refs for _, refs, resp in items]
        self._record(out)
        return out


def test_judge_split_marks_correct_and_refusal():
    samples = [
        {"id": "q1", "responses": ["red", "I don't know.", "blue", "Red.", "crimson"]},
        {"id": "q2", "responses": ["B", "(A)", "Sorry, I can not help with it."]},
    ]
    out = judge_split([OPEN, CHOICE], samples, NoSemanticJudge())
    assert out[0] == {
        "id": "q1",
        "responses": samples[0]["responses"],
        "correct": [True, False, False, True, False],
        "refusal": [False, True, False, False, False],
    }
    assert out[1]["correct"] == [True, False, False] and out[1]["refusal"] == [False, False, True]
    stats: dict = {}
    semantic = judge_split([OPEN, CHOICE], samples, CrimsonJudge(), stats=stats)
    assert semantic[0]["correct"] == [True, False, False, True, True] and stats["semantic_correct"] == 1


def test_judge_split_input_errors():
    with pytest.raises(DataError, match=r"^samples: empty input"):
        judge_split([OPEN], [])
    with pytest.raises(DataError, match="not among the questions, e.g. 'zz'"):
        judge_split([OPEN], [{"id": "zz", "responses": ["red"]}])


# ------------------------------------------------------------------ restructuring

JUDGED = {
    "id": "q1",
    "responses": ["red", "blue", "I don't know.", "Red.", "green"],
    "correct": [True, False, False, True, False],
    "refusal": [False, False, True, False, False],
}


def test_restructured_record_has_the_figure_2_fields():
    rec = restructure_record(OPEN, JUDGED, seed=0)
    assert set(rec) == {
        "id",
        "image",
        "question",
        "answers",
        "kind",
        "meta",
        "conf",
        "correct_response",
        "incorrect_response",
        "refusal_response",
        "origin",
    }
    assert rec["conf"] == 0.4 and rec["origin"] == "vqa" and rec["image"] == "img/q1.png"
    assert rec["correct_response"] in ("red", "Red.")
    assert rec["incorrect_response"] in ("blue", "green")  # never the refusal
    assert rec["refusal_response"] in REFUSAL_TEMPLATES
    assert restructure_record(OPEN, JUDGED, seed=0) == rec  # deterministic
    picks = {
        (
            restructure_record(OPEN, JUDGED, seed=s)["correct_response"],
            restructure_record(OPEN, JUDGED, seed=s)["incorrect_response"],
            restructure_record(OPEN, JUDGED, seed=s)["refusal_response"],
        )
        for s in range(30)
    }
    assert len(picks) > 5  # the seed matters


def test_refusals_redrawn_from_another_template_subset_match_the_restructure_stage():
    """with_refusals (the validation search's re-draw) gives each record the refusal the restructure stage
    draws with the same template subset, and leaves everything else as it was."""
    one = restructure_record(OPEN, JUDGED, seed=3, refusal_templates=1)
    assert one["refusal_response"] == REFUSAL_TEMPLATES[0]  # the paper's own
    for n in (None, 5):
        redrawn = with_refusals([one], seed=3, refusal_templates=n)[0]
        assert redrawn == restructure_record(OPEN, JUDGED, seed=3, refusal_templates=n)
    assert one["refusal_response"] == REFUSAL_TEMPLATES[0]  # input untouched
    drawn = {with_refusals([{**one, "id": f"q{i}"}], seed=3)[0]["refusal_response"] for i in range(200)}
    assert len(drawn) > 20 and drawn <= set(REFUSAL_TEMPLATES)


def test_a_blank_sample_is_an_incorrect_response_of_last_resort():
    blank_and_wrong = {**JUDGED, "responses": ["red", "", "I don't know.", "Red.", " "]}
    picks = {restructure_record(OPEN, blank_and_wrong, seed=s)["incorrect_response"] for s in range(20)}
    assert picks and picks <= {"", " "}  # only blanks are incorrect here: one of them is taken
    one_real = {**blank_and_wrong, "responses": ["red", "", "I don't know.", "Red.", "green"]}
    assert {restructure_record(OPEN, one_real, seed=s)["incorrect_response"] for s in range(20)} == {"green"}


def test_restructured_record_without_correct_or_incorrect_samples():
    all_right = {"id": "q2", "responses": ["B", "B"], "correct": [True, True], "refusal": [False, False]}
    rec = restructure_record(CHOICE, all_right)
    assert rec["conf"] == 1.0 and rec["incorrect_response"] is None and rec["choices"] == ["circle", "square"]
    refusing = {"id": "q1", "responses": ["I don't know."], "correct": [False], "refusal": [True]}
    rec = restructure_record(OPEN, refusing)
    assert rec["conf"] == 0.0 and rec["correct_response"] is None and rec["incorrect_response"] is None
    with pytest.raises(DataError, match="not among the questions"):
        restructure_split([OPEN], [dict(JUDGED, id="zz")])


# ------------------------------------------------------------------ metrics


def _judged(qid, n_correct, n_refusal, k=10):
    correct = [True] * n_correct + [False] * (k - n_correct)
    refusal = [False] * n_correct + [True] * n_refusal + [False] * (k - n_correct - n_refusal)
    return {"id": qid, "responses": ["x"] * k, "correct": correct, "refusal": refusal}


def test_metrics_by_hand():
    qs = [dict(OPEN, id=f"p{i}", meta={"family": "perception"}) for i in range(3)] + [
        dict(CHOICE, id=f"c{i}", meta={"family": "choice"}) for i in range(2)
    ]
    judged = [_judged("p0", 10, 0), _judged("p1", 8, 1), _judged("p2", 5, 0), _judged("c0", 2, 0), _judged("c1", 0, 1)]
    rs = restructure_split(qs, judged)
    m = confidence_metrics({"pool": rs}, {"pool": judged}, delta_k=0.8, delta_uk=0.2, bad_images={"pool": 2, "test": 1})
    pool = m["splits"]["pool"]
    assert m["k"] == 10 and m["bad_images"] == {"total": 3, "pool": 2, "test": 1}
    assert pool["n"] == 5 and pool["conf_mean"] == 0.5  # (1 + .8 + .5 + .2 + 0) / 5
    assert pool["hist_n_correct"] == {**{str(i): 0 for i in range(11)}, "10": 1, "8": 1, "5": 1, "2": 1, "0": 1}
    assert (pool["known"], pool["mixed"], pool["unknown"]) == (2, 1, 2)
    assert (pool["known_share"], pool["mixed_share"], pool["unknown_share"]) == (0.4, 0.2, 0.4)
    assert pool["refusal_rate"] == 0.04  # 2 refusals / 50 samples
    fam = pool["families"]
    assert fam["perception"]["known"] == 2 and fam["perception"]["conf_mean"] == round(2.3 / 3, 4)
    assert fam["choice"]["unknown"] == 2 and fam["choice"]["refusal_rate"] == 0.05
    rows = histogram_rows(m, "pool")
    assert len(rows) == 3 * 11 and rows[0] == {"conf": 0.0, "family": "all", "count": 1, "share": 0.2}
    assert sum(r["count"] for r in rows if r["family"] == "choice") == 2


def test_histogram_csv_and_png(tmp_path):
    judged = [_judged(f"p{i}", i, 0) for i in range(11)]
    qs = [dict(OPEN, id=f"p{i}") for i in range(11)]
    m = confidence_metrics({"pool": restructure_split(qs, judged)}, {"pool": judged}, delta_k=0.8, delta_uk=0.2)
    rows = histogram_rows(m, "pool")
    write_histogram_csv(rows, tmp_path / "h.csv")
    with open(tmp_path / "h.csv") as fh:
        got = list(csv.DictReader(fh))
    assert list(got[0]) == ["conf", "family", "count", "share"] and len(got) == 22
    plot_histogram(rows, tmp_path / "h.png", delta_k=0.8, delta_uk=0.2)
    assert (tmp_path / "h.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ------------------------------------------------------------------ the stage scripts on a tiny project

SAMPLING = {
    "backend": "hf",
    "k": 3,
    "max_new_tokens": 3,
    "batch_size": 8,
    "seed": 0,
    "splits": ["pool", "test"],
    "max_bad_fraction": 0.1,
    "device": "cpu",
}
PARAMS = {"sampling": SAMPLING, "judge": {"backend": "none"}, "restructure": {"seed": 0}}
# the arguments of each stage's cmd in dvc.yaml
ARGS = {
    "sample": [
        "--world",
        "data/world",
        "--model",
        "models/base",
        "--out",
        "data/samples",
        "--metrics",
        "metrics/sampling.json",
    ],
    "judge": ["--world", "data/world", "--samples", "data/samples", "--out", "data/judged"],
    "restructure": ["--world", "data/world", "--judged", "data/judged", "--out", "data/restructured"],
    "confidence_report": [
        "--judged",
        "data/judged",
        "--restructured",
        "data/restructured",
        "--metrics",
        "metrics/confidence.json",
        "--hist-csv",
        "plots/confidence_hist.csv",
        "--hist-png",
        "plots/confidence_hist.png",
    ],
}


@pytest.fixture(scope="module")
def project(tiny_world, tiny_model, tmp_path_factory):
    """A project folder with its own params.yaml over the shared tiny world and model (linked in, read only)."""
    root = tmp_path_factory.mktemp("proj")
    (root / "data").mkdir()
    (root / "models").mkdir()
    (root / "data/world").symlink_to(tiny_world["dir"], target_is_directory=True)
    (root / "models/base").symlink_to(tiny_model["dir"], target_is_directory=True)
    write_params(root, **PARAMS)
    return {
        "root": root,
        "pool": len(read_jsonl(tiny_world["dir"] / "pool.jsonl")),
        "test": len(read_jsonl(tiny_world["dir"] / "test.jsonl")),
    }


def run_stage_script(monkeypatch, name: str) -> None:
    """stages/<name>.py in this process, with the arguments of its dvc.yaml cmd."""
    monkeypatch.setattr(sys, "argv", [f"{name}.py", *ARGS[name]])
    runpy.run_path(str(ROOT / "stages" / f"{name}.py"), run_name="__main__")


@pytest.mark.e2e
def test_stages_sample_judge_restructure(project, monkeypatch):
    monkeypatch.chdir(project["root"])
    n_pool, n_test = project["pool"], project["test"]
    for stage in ("sample", "judge", "restructure", "confidence_report"):
        run_stage_script(monkeypatch, stage)
    pool = read_jsonl("data/samples/pool.jsonl")
    assert len(pool) == n_pool and all(len(r["responses"]) == 3 for r in pool)
    assert read_json("data/samples/stats.json")["splits"]["test"]["n_sampled"] == n_test
    judged = read_jsonl("data/judged/pool.jsonl")
    assert set(judged[0]) == {"id", "responses", "correct", "refusal"} and len(judged[0]["correct"]) == 3
    rs = read_jsonl("data/restructured/pool.jsonl")
    assert len(rs) == n_pool and all(r["origin"] == "vqa" and r["conf"] in (0, 1 / 3, 2 / 3, 1) for r in rs)
    m = read_json("metrics/confidence.json")
    assert m["k"] == 3 and set(m["splits"]) == {"pool", "test"} and m["bad_images"]["total"] == 0
    assert m["splits"]["pool"]["known"] + m["splits"]["pool"]["mixed"] + m["splits"]["pool"]["unknown"] == n_pool
    assert "families" in m["splits"]["pool"] and "families" not in m["splits"]["test"]
    assert Path("plots/confidence_hist.png").is_file() and Path("plots/confidence_hist.csv").is_file()
    # a re-run resumes (nothing to sample) and leaves the samples byte-identical
    before = Path("data/samples/pool.jsonl").read_bytes()
    run_stage_script(monkeypatch, "sample")
    assert Path("data/samples/pool.jsonl").read_bytes() == before
    assert read_json("metrics/sampling.json")["splits"]["pool"]["n_resumed"] == n_pool
    assert set(read_json("data/samples/stats.json")["splits"]["pool"]) == {"n_questions", "n_sampled", "n_bad", "bad"}


def _files(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.is_dir() else {}


@pytest.mark.e2e
def test_sample_stage_bad_param_fails_before_work(project, monkeypatch, capsys):
    root = project["root"]
    monkeypatch.chdir(root)
    before = _files(root / "data/samples")
    try:
        write_params(root, **{**PARAMS, "sampling": {**SAMPLING, "k": 0}})
        with pytest.raises(SystemExit) as e:
            run_stage_script(monkeypatch, "sample")
        assert e.value.code == 2
        assert capsys.readouterr().err.strip() == "error: sampling.k = 0: must be an integer >= 1"
        write_params(root, **{**PARAMS, "sampling": {**SAMPLING, "splits": ["pool", "nope"]}})
        with pytest.raises(SystemExit) as e:
            run_stage_script(monkeypatch, "sample")
        assert e.value.code == 2
        assert (
            capsys.readouterr().err.strip()
            == "error: sampling.splits[1] = 'nope': is not a question split of the world; allowed: "
            + ", ".join(world_files())
        )
        assert _files(root / "data/samples") == before  # nothing sampled, nothing removed
    finally:
        write_params(root, **PARAMS)

"""One build -> train -> evaluate path: the construct stage, the sweep cells and the search build their
training sets with inbol.boundary.build_training_sets, train through the route functions
(inbol.training.routes.train_method), and answer through one backend choice (inbol.serve.load_answerer) before
inbol.evaluation.evaluate.evaluate_answerer judges and scores."""

from types import SimpleNamespace

import pytest

from helpers import section
from inbol.boundary import build_training_sets, construct
from inbol.errors import ParamError
from inbol.evaluation import evaluate_model, make_testset
from inbol.evaluation.evaluate import evaluate_answerer
from inbol.io import read_jsonl
from inbol.sweep.data import cell_data
from inbol.training.routes import train_method
from test_sweep import _restructured, _unanswerable

CFG = {
    "idk_it": section("idk_it", size=20, known_ratio=0.75),
    "preference": section("preference", size=12),
    "sft": section("sft", size=15),
}


def _pool():
    return _restructured(30, 20, 10), _unanswerable(10)


@pytest.mark.parametrize("name", ["idk_it", "preference", "sft"])
def test_a_set_built_alone_is_the_construct_stages_set(name):
    pool, kept = _pool()
    sets, _ = construct(pool, kept, delta_k=0.8, delta_uk=0.2, seed=3, **CFG)
    alone, reports, _ = build_training_sets(pool, kept, delta_k=0.8, delta_uk=0.2, seed=3, **{name: CFG[name]})
    assert alone[name] and alone[name] == sets[name]
    assert set(alone) == ({name, "dpo_1", "dpo_2", "dpo_3"} if name == "preference" else {name})
    assert set(reports) == {name}
    if name == "preference":
        assert all(alone[f"dpo_{v}"] == sets[f"dpo_{v}"] for v in (1, 2, 3))


def test_a_sweep_cell_set_is_the_construct_stages_set_at_the_cells_thresholds():
    pool, kept = _pool()
    budget = section("sweep.budget", idk_it_size=None, preference_size=None)
    for dk, du in ((0.8, 0.2), (0.5, 0.2)):
        recs, _ = cell_data(
            "threshold",
            (dk, du),
            pool,
            kept,
            thresholds=None,
            budget=budget,
            idk_it=CFG["idk_it"],
            preference=None,
            seed=1,
        )
        sets, _ = construct(pool, kept, delta_k=dk, delta_uk=du, seed=1, **CFG)
        assert recs == sets["idk_it"]
    recs, _ = cell_data(
        "composition",
        (2.0,),
        pool,
        kept,
        thresholds=section("sweep.thresholds", delta_k=0.8, delta_uk=0.2),
        budget=budget,
        idk_it=None,
        preference=CFG["preference"],
        seed=1,
    )
    sets, _ = construct(
        pool,
        kept,
        delta_k=0.8,
        delta_uk=0.2,
        seed=1,
        **{**CFG, "preference": CFG["preference"].replace(ratio=[1, 1, 2])},
    )
    assert recs == sets["preference"]


@pytest.mark.parametrize(
    ("route", "kw", "message"),
    [
        ("rl", {}, "training route 'rl': must be one of sft, preference"),
        ("preference", {"kind": "ca_dpo"}, "training 'm' by preference: needs the dpo section and a kind"),
    ],
)
def test_an_unknown_route_or_a_preference_route_without_its_loss_is_a_one_line_error(route, kw, message, tmp_path):
    with pytest.raises(ParamError) as e:
        train_method(route, tmp_path / "d.jsonl", tmp_path / "m", tmp_path / "o", lora=None, train=None, seed=0,
                     work_dir=tmp_path / "w", name="m", **kw)  # fmt: skip
    assert str(e.value).startswith(message) and "\n" not in str(e.value)
    assert not (tmp_path / "o").exists()


def _sections(backend, **evaluate):
    return SimpleNamespace(
        sampling=section("sampling", backend=backend),
        evaluate=section("evaluate", device="cpu", dtype="float32", batch_size=4, max_new_tokens=3, **evaluate),
        prompt=section("prompt"),
    )


def test_the_server_backend_loads_nothing_in_process(monkeypatch, tmp_path):
    from inbol.serve import ServerAnswerer, load_answerer

    monkeypatch.setattr("inbol.models.load_base", lambda *a, **k: pytest.fail("a model was loaded in process"))
    a = load_answerer(tmp_path, _sections("openai"), name="idk_it", seed=2)
    assert isinstance(a, ServerAnswerer) and (a.name, a.seed, a.model, a.fmt) == ("idk_it", 2, None, None)


@pytest.mark.usefixtures("one_thread")
def test_the_in_process_backend_answers_as_the_models_greedy_answer_function(tiny_world, tiny_model):
    from inbol.models import PromptFormat, greedy_answer_fn
    from inbol.models.answerer import Answerer
    from inbol.serve import load_answerer

    p = _sections("hf")
    answerer = load_answerer(tiny_model["dir"], p, name="base")
    assert isinstance(answerer, Answerer)
    recs = [{**r, "image": str(tiny_world["root"] / r["image"])} for r in read_jsonl(tiny_world["dir"] / "test.jsonl")]
    ts = {"perception": make_testset("perception", recs[:6], "in_domain", True)}
    direct = greedy_answer_fn(
        tiny_model["model"], PromptFormat(tiny_model["processor"], p.prompt.system), batch_size=4, max_new_tokens=3,
        prompt_suffix=" Answer.", refusal_score=True,
    )  # fmt: skip
    want = evaluate_model(direct, ts, model="base", extra={"seed": None})
    got = evaluate_answerer(
        answerer, ts, model="base", prompt_suffix=" Answer.", refusal_score=True, extra=lambda served: {"seed": served}
    )
    assert got == want
    assert {"p_refusal"} <= set(got[0][0]) and len(got[0]) == 6

"""Unanswerable questions: oracle criteria, swap/template generation, the MLLM backends (with a fake chat
client), the filter with the refusal step, the evaluation sets and parameter validation."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from PIL import Image

from helpers import section, world_cfg
from inbol.errors import DataError, ParamError
from inbol.io import read_json, read_jsonl
from inbol.params import UnanswerableGenerate
from inbol.unanswerable import (
    CRITERIA,
    OpenAIGenerator,
    build_beyond,
    build_uavqa,
    build_vizwiz,
    criteria,
    filter_unanswerable,
    generate_unanswerable,
    oracle,
    parse_generated,
    parse_yes_no,
    qtype_semantics,
    strict_ok,
    templates,
)
from inbol.world import build_world, derive_answer, load_scenes, render

# --------------------------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------------------------


def _scene(objects, emblem=None, degraded=None, sid="s"):
    objs = []
    for o in objects:
        objs.append({"size": "small", "col": 0, "row": 0, "occluded": False, **o})
    return {
        "id": sid,
        "size": 32,
        "difficulty": 0.0,
        "noise": 0.0,
        "background": [0, 0, 0],
        "objects": objs,
        "emblem": emblem,
        "specks": [],
        "occluder": None,
        "degraded": degraded,
    }


# red small circle on the left, blue large square on the right, no emblem
SCENE = _scene(
    [
        {"shape": "circle", "color": "red", "size": "small", "col": 0},
        {"shape": "square", "color": "blue", "size": "large", "col": 2},
    ]
)
EMBLEM = {"id": 0, "name": "Kalo", "color": "green", "cx": 16.0, "cy": 16.0, "scale": 0.5}


def _template(scene, name, **match):
    """The candidate of template ``name`` on ``scene`` whose target matches ``match``."""
    for bank in templates.BANKS.values():
        for cand in bank(scene).get(name, []):
            if all(cand["target"].get(k) == v for k, v in match.items()):
                return cand
    raise AssertionError(f"no {name} candidate with {match}")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("world")
    cfg = world_cfg(sizes={"corpus": 5, "pool": 240, "test": 120}, n_emblems=5, emblem_max_exposure=2)
    build_world(cfg, out)
    return {
        "dir": out,
        "pool": read_jsonl(out / "pool.jsonl"),
        "test": read_jsonl(out / "test.jsonl"),
        "scenes": load_scenes(out),
        "catalogue": read_json(out / "emblems.json"),
    }


G, F, S = "unanswerable.generate", "unanswerable.filter", "unanswerable.sets"


def _gen_cfg(**kw):
    """params.yaml's unanswerable.generate at two questions per image, with ``kw`` replacing whole values
    (``mix={"generate": 1.0}`` is generation only)."""
    return section(G, per_image=2).replace(**kw)


def _filter_cfg(**kw):
    return section(F).replace(**kw)


# --------------------------------------------------------------------------------------------
# the oracle's criteria on hand-made scenes
# --------------------------------------------------------------------------------------------


def test_criterion_not_depicted_absent_shape_and_emblem():
    c = criteria(SCENE, _template(SCENE, "absent_color", shape="star"))
    assert c == {"not_depicted": True, "false_premise": True, "not_available": False}
    c = criteria(SCENE, _template(SCENE, "absent_color", shape="triangle"))
    assert c["not_depicted"] and not c["not_available"]
    c = criteria(SCENE, _template(SCENE, "absent_shape", color="green"))
    assert c["not_depicted"]
    c = criteria(SCENE, _template(SCENE, "absent_emblem"))
    assert c["not_depicted"]
    # the same question on a scene with an emblem: nothing holds (and the world can answer it)
    with_emblem = _scene([], emblem=EMBLEM)
    assert not any(criteria(with_emblem, qtype_semantics("emblem_name", {})).values())
    assert any(criteria(SCENE, qtype_semantics("emblem_name", {})).values())


def test_criterion_false_premise_on_present_subjects():
    # "Why is the circle bigger than the square?": both there, the circle is small -> premise false
    c = criteria(SCENE, _template(SCENE, "fp_why_bigger", shape="circle"))
    assert c == {"not_depicted": False, "false_premise": True, "not_available": True}
    # "What color is the square to the left of the circle?": the square is on the right
    c = criteria(SCENE, _template(SCENE, "fp_left_of", shape="square"))
    assert c == {"not_depicted": False, "false_premise": True, "not_available": False}
    # "What color are the two circles?" / "What color is the large circle?"
    assert criteria(SCENE, _template(SCENE, "fp_count", shape="circle"))["false_premise"]
    assert criteria(SCENE, _template(SCENE, "fp_wrong_size", shape="circle"))["false_premise"]
    # "Why is the blue circle bigger than the square?" when the circle is red: the circle is depicted
    sem = _template(SCENE, "absent_why_bigger", shape="triangle", color="blue")
    assert criteria(SCENE, sem)["not_depicted"]
    blue_circle = {"shape": "circle", "color": "blue"}
    sem = {
        "subjects": [blue_circle, {"shape": "square"}],
        "claims": [
            {"type": "exists", "subject": blue_circle},
            {"type": "compare", "attr": "size", "a": blue_circle, "b": {"shape": "square"}},
        ],
        "asks": {"type": "external", "topic": "reason"},
    }
    assert criteria(SCENE, sem) == {"not_depicted": False, "false_premise": True, "not_available": True}
    # true premises: the square IS bigger than the circle and to its right
    assert oracle.claim_holds(
        SCENE, {"type": "compare", "attr": "size", "a": {"shape": "square"}, "b": {"shape": "circle"}}
    )
    assert oracle.claim_holds(SCENE, {"type": "left_of", "a": {"shape": "circle"}, "b": {"shape": "square"}})
    assert oracle.claim_holds(SCENE, {"type": "count", "subject": {"shape": "circle"}, "n": 1})


def test_criterion_not_available():
    for name in ("na_author", "na_past", "na_location", "na_offframe"):
        c = criteria(SCENE, _template(SCENE, name))
        assert c == {"not_depicted": False, "false_premise": False, "not_available": True}, name
    for name in ("na_hidden", "na_future", "na_material", "na_weight"):
        assert criteria(SCENE, _template(SCENE, name, shape="square"))["not_available"]
    # "What is hidden behind the star?" would be both absent and not available
    sem = copy.deepcopy(_template(SCENE, "na_hidden", shape="square"))
    sem["subjects"] = [{"shape": "star"}]
    assert criteria(SCENE, sem)["not_depicted"] and criteria(SCENE, sem)["not_available"]
    translation = _template(_scene([], emblem=EMBLEM), "na_translation")
    assert criteria(_scene([], emblem=EMBLEM), translation)["not_available"]


def test_criteria_on_degraded_and_occluded_scenes():
    ask_color = qtype_semantics("color", {"shape": "circle"})
    ask_shape = qtype_semantics("shape", {"color": "red"})
    assert not any(criteria(SCENE, ask_color).values())  # a plain, answerable question
    blank = {**SCENE, "degraded": "blank"}
    assert criteria(blank, ask_color) == {"not_depicted": True, "false_premise": False, "not_available": True}
    dark = {**SCENE, "degraded": "dark"}
    assert criteria(dark, ask_color) == {"not_depicted": False, "false_premise": False, "not_available": True}
    blur = {**SCENE, "degraded": "blur"}
    assert criteria(blur, ask_shape)["not_available"]  # shapes are lost in the blur
    assert not criteria(
        blur,
        {
            "subjects": [{"color": "red"}],
            "claims": [],
            "asks": {"type": "attr", "attr": "color", "subject": {"color": "red"}},
        },
    )["not_available"]
    hidden = copy.deepcopy(SCENE)
    hidden["objects"][0]["hidden"] = True
    assert criteria(hidden, ask_color) == {"not_depicted": True, "false_premise": False, "not_available": True}
    assert not any(criteria(hidden, qtype_semantics("color", {"shape": "square"})).values())
    assert criteria(hidden, qtype_semantics("count", {}))["not_available"]


def test_strict_mode_keeps_only_unambiguous_questions():
    keep = [
        _template(SCENE, "absent_color", shape="star"),
        _template(SCENE, "na_author"),
        _template(SCENE, "fp_why_bigger", shape="circle"),
        _template(SCENE, "absent_emblem"),
    ]
    for meta in keep:
        assert strict_ok(SCENE, meta), meta["question"]
    # a false premise about a visible subject can be partly answered ("What color is the large circle?" -> red)
    drop = [
        _template(SCENE, "fp_wrong_size", shape="circle"),
        _template(SCENE, "fp_count", shape="circle"),
        _template(SCENE, "fp_left_of", shape="square"),
        _template(SCENE, "fp_wrong_color", shape="circle"),
    ]
    for meta in drop:
        assert any(criteria(SCENE, meta).values())
        assert not strict_ok(SCENE, meta), meta["question"]
    # a swapped "What shape is the red object?" on a scene with two red objects: ambiguous, not strict
    two_red = _scene([{"shape": "circle", "color": "red"}, {"shape": "cross", "color": "red", "col": 2}])
    sem = qtype_semantics("shape", {"color": "red"})
    assert criteria(two_red, sem) == {"not_depicted": False, "false_premise": True, "not_available": False}
    assert not strict_ok(two_red, sem)


def test_choice_question_whose_answer_is_not_an_option():
    sem = qtype_semantics("color", {"shape": "circle"}, choices=["blue", "green", "yellow", "gray"])
    assert criteria(SCENE, sem)["false_premise"]
    sem = qtype_semantics("color", {"shape": "circle"}, choices=["blue", "red", "yellow", "gray"])
    assert not any(criteria(SCENE, sem).values())


# --------------------------------------------------------------------------------------------
# generation on a real small world
# --------------------------------------------------------------------------------------------


def test_template_questions_are_all_unanswerable(world):
    recs, stats = generate_unanswerable(world["pool"], world["scenes"], _gen_cfg(mix={"generate": 1.0}, per_image=3))
    assert stats["by_method"] == {"template": len(recs)} and len(recs) >= 240 * 2
    assert set(stats["by_category"]) == {"absent", "false_premise", "not_available"}
    for r in recs:
        scene = world["scenes"][r["meta"]["scene_id"]]
        m = r["meta"]
        assert r["kind"] == "unanswerable" and r["answers"] == [] and m["explanation"].startswith("This question")
        assert any(criteria(scene, m).values()), r["question"]
        if m["category"] == "absent":  # independent of the oracle: the subject is not in the scene
            t = m["target"]
            if t.get("emblem"):
                assert scene["emblem"] is None
            elif "shape" in t:
                assert t["shape"] not in {o["shape"] for o in scene["objects"]}
            elif "color" in t:
                assert t["color"] not in {o["color"] for o in scene["objects"]}
        elif m["category"] == "not_available":
            assert m["asks"]["type"] == "external"
    assert len({r["id"] for r in recs}) == len(recs)


def test_swapped_questions_kept_by_filter_are_unanswerable(world):
    recs, stats = generate_unanswerable(world["pool"], world["scenes"], _gen_cfg(mix={"swap": 1.0}, per_image=2))
    assert stats["by_method"] == {"swap": len(recs)} and len(recs) > 200
    assert stats["swap_answerable"] > 0  # answerable swaps were tried and rejected
    kept, fstats = filter_unanswerable(recs, world["scenes"], _filter_cfg())
    assert fstats["kept"] == len(kept) > 0
    by_id = {r["id"]: r for r in world["pool"]}
    for r in kept:
        m = r["meta"]
        scene = world["scenes"][m["scene_id"]]
        donor = by_id[m["orig_id"]]
        assert donor["image"] != r["image"] and donor["question"] == r["question"]
        assert m["source_id"] != m["orig_id"]
        try:
            answer = derive_answer(scene, {"qtype": m["orig_qtype"], "target": m["target"]})
        except ValueError:
            continue  # no answer on this scene: unanswerable
        assert donor.get("choices") is not None and answer not in donor["choices"], r["question"]


def test_generation_is_deterministic_and_seeded(world):
    cfg = _gen_cfg(n_images=50, seed=3)
    a, _ = generate_unanswerable(world["pool"], world["scenes"], cfg)
    b, _ = generate_unanswerable(world["pool"], world["scenes"], cfg)
    c, _ = generate_unanswerable(world["pool"], world["scenes"], _gen_cfg(n_images=50, seed=4))
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    assert json.dumps(a, sort_keys=True) != json.dumps(c, sort_keys=True)
    assert len({r["meta"]["source_id"] for r in a}) <= 50


# --------------------------------------------------------------------------------------------
# the filter: criteria and the refusal step
# --------------------------------------------------------------------------------------------


def test_filter_drops_no_criterion_and_base_refusals(world):
    recs, _ = generate_unanswerable(world["pool"], world["scenes"], _gen_cfg(n_images=60))
    answerable = copy.deepcopy(recs[0])  # the scene's own question, marked as if generated: no criterion holds
    src = next(r for r in world["pool"] if r["id"] == answerable["meta"]["source_id"])
    answerable.update(id="ua-answerable", question=src["question"])
    answerable["meta"].update(
        method="swap", **qtype_semantics(src["meta"]["qtype"], src["meta"]["target"], src.get("choices"))
    )
    recs = recs + [answerable]

    def answer_fn(rs):
        return ["Sorry, I can not help with it." if i % 4 == 0 else f"answer {i}" for i in range(len(rs))]

    kept, stats = filter_unanswerable(
        recs, world["scenes"], _filter_cfg(), answer_fn=answer_fn, is_refusal=lambda t: t.startswith("Sorry")
    )
    assert stats["generated"] == len(recs)
    assert stats["dropped"]["no_criterion"] == 1 and "ua-answerable" not in {r["id"] for r in kept}
    n_checked = len(recs) - 1
    refused = sum(1 for i in range(n_checked) if i % 4 == 0)
    assert stats["dropped"]["base_refused"] == refused
    assert stats["base_refusal_rate"] == pytest.approx(refused / n_checked)
    assert stats["kept"] == len(kept) == n_checked - refused
    assert sum(m["kept"] for m in stats["by_method"].values()) == len(kept)
    assert sum(m["generated"] for m in stats["by_method"].values()) == len(recs)
    for r in kept:
        assert r["conf"] == 0.0 and r["incorrect_response"].startswith("answer ")
        assert set(r["meta"]["criteria"]) == set(CRITERIA) and any(r["meta"]["criteria"].values())
        assert r["meta"]["method"] in ("swap", "template")


def test_strict_filter_and_oracle_needs_structured_meta(world):
    recs, _ = generate_unanswerable(world["pool"], world["scenes"], _gen_cfg(n_images=80))
    kept, stats = filter_unanswerable(recs, world["scenes"], _filter_cfg(strict=True))
    assert stats["dropped"]["not_strict"] > 0
    for r in kept:
        assert strict_ok(world["scenes"][r["meta"]["scene_id"]], r["meta"])
    bare = [{**recs[0], "meta": {"method": "openai", "scene_id": recs[0]["meta"]["scene_id"]}}]
    with pytest.raises(DataError, match="openai filter backend"):
        filter_unanswerable(bare, world["scenes"], _filter_cfg())


# --------------------------------------------------------------------------------------------
# the MLLM backends, with a fake chat client
# --------------------------------------------------------------------------------------------


class FakeClient:
    """Any object with chat(messages, n=1, **gen) -> list[str]; answers from a function of the prompt."""

    def __init__(self, answer):
        self.answer = answer
        self.calls = []

    def chat(self, messages, n=1, **gen):
        self.calls.append((messages, n, gen))
        content = messages[-1]["content"]
        text = next(p["text"] for p in content if p["type"] == "text")
        assert any(
            p["type"] == "image_url" and p["image_url"]["url"].startswith("data:image/png;base64,") for p in content
        )
        return [self.answer(text, len(self.calls) - 1)]


FENCED = """Sure! Here they are:
```json
[{"question": "What is the dog's name?", "explanation": "This question can not be answered based on the image because there is no dog."},
 {"question": "Who painted the circle?", "explanation": "No author is shown."}]
```"""
FIGURE8 = """Question: What brand is the red circle?
Explanation: This question can not be answered based on the image because brands are not shown.

Question: What color is the star?
Explanation: This question can not be answered based on the image because there is no star."""
NUMBERED = """1. What is the cat doing? Explanation: there is no cat in the image.
2. **Question 2:** How heavy is the square?
   **Explanation:** Weight cannot be seen."""


def test_parse_generated_is_robust():
    assert [q["question"] for q in parse_generated(FENCED)] == ["What is the dog's name?", "Who painted the circle?"]
    assert parse_generated('[{"Question": "Q1?", "Explanation": "E1"}]') == [{"question": "Q1?", "explanation": "E1"}]
    assert [q["question"] for q in parse_generated('{"questions": [{"question": "A?"}, {"question": "B?"}]}')] == [
        "A?",
        "B?",
    ]
    assert [q["question"] for q in parse_generated('Here: ["Is it?", "Was it?"] done')] == ["Is it?", "Was it?"]
    f8 = parse_generated(FIGURE8)
    assert [q["question"] for q in f8] == ["What brand is the red circle?", "What color is the star?"]
    assert f8[1]["explanation"].endswith("there is no star.")
    num = parse_generated(NUMBERED)
    assert [q["question"] for q in num] == ["What is the cat doing?", "How heavy is the square?"]
    assert (
        num[0]["explanation"] == "there is no cat in the image." and num[1]["explanation"] == "Weight cannot be seen."
    )
    for junk in ("", "I cannot help with that.", "{not json", "[1, 2, 3]", None):
        assert parse_generated(junk) == []


def test_openai_generator_counts_and_skips_unparseable(world):
    answers = [FENCED, "I'm sorry, I can't do that.", FIGURE8, NUMBERED]
    client = FakeClient(lambda text, i: answers[i % len(answers)])
    cfg = _gen_cfg(backend="openai", mix={"generate": 1.0}, n_images=8, per_image=2)
    recs, stats = generate_unanswerable(world["pool"], None, cfg, client=client)
    assert len(client.calls) == 8 and stats["llm_unparsed"] == 2 and stats["llm_answers"] == 8
    assert len(recs) == 6 * 2 and all(r["meta"]["method"] == "openai" for r in recs)
    assert "Please generate 2 unanswerable questions" in json.dumps(client.calls[0][0])
    assert client.calls[0][2]["temperature"] == cfg.temperature
    # mixed with swap: swapped questions come from the scene graphs, the rest from the client
    recs2, stats2 = generate_unanswerable(
        world["pool"], world["scenes"], _gen_cfg(backend="openai", n_images=20), client=FakeClient(lambda t, i: FENCED)
    )
    assert set(stats2["by_method"]) == {"swap", "openai"}
    # most answers unreadable -> one clear line
    bad = FakeClient(lambda text, i: FENCED if i == 0 else "no idea")
    with pytest.raises(DataError) as e:
        generate_unanswerable(world["pool"], None, cfg, client=bad)
    msg = str(e.value)
    assert "\n" not in msg and "7 of 8" in msg and "max_unparsed_frac" in msg
    with pytest.raises(DataError, match="no LLM client"):
        generate_unanswerable(world["pool"], None, cfg)
    with pytest.raises(TypeError):
        OpenAIGenerator(object())


def test_parse_yes_no():
    assert parse_yes_no("Yes.") is True and parse_yes_no("no") is False and parse_yes_no("**No**, it is red") is False
    assert parse_yes_no("The answer is yes") is True
    assert parse_yes_no("maybe") is None and parse_yes_no("It could be yes or no") is None and parse_yes_no("") is None


def test_openai_filter_checks_each_criterion(world):
    recs, _ = generate_unanswerable(world["pool"], world["scenes"], _gen_cfg(n_images=10, per_image=1))
    recs = recs[:6]

    def answer(text, i):
        rec, crit = divmod(i, 3)
        if rec == 0:
            return "No."  # all three "no": dropped
        if rec == 1:
            return "Yes" if crit == 2 else "no"  # only "information not available"
        return "yes" if crit == 0 else "No, not really"

    client = FakeClient(answer)
    kept, stats = filter_unanswerable(recs, None, _filter_cfg(backend="openai"), client=client)
    assert len(client.calls) == 3 * len(recs)
    asked = [next(p["text"] for p in m[-1]["content"] if p["type"] == "text") for m, _, _ in client.calls[:3]]
    assert "not depicted" in asked[0] and "incorrect or misleading premise" in asked[1] and "not available" in asked[2]
    assert stats["dropped"]["no_criterion"] == 1 and len(kept) == len(recs) - 1
    assert kept[0]["meta"]["criteria"] == {"not_depicted": False, "false_premise": False, "not_available": True}
    assert kept[1]["meta"]["criteria"]["not_depicted"] and not kept[1]["meta"]["criteria"]["false_premise"]
    with pytest.raises(DataError, match="could not be read"):
        filter_unanswerable(recs, None, _filter_cfg(backend="openai"), client=FakeClient(lambda t, i: "hmm"))


# --------------------------------------------------------------------------------------------
# evaluation sets
# --------------------------------------------------------------------------------------------


def test_uavqa_on_test_images_is_strict(world):
    recs, stats = build_uavqa(world["test"], world["scenes"], 40, seed=1, gen=section(G))
    assert len(recs) == 40 == stats["n"] and len({r["id"] for r in recs}) == 40
    test_images = {r["image"] for r in world["test"]}
    for r in recs:
        scene = world["scenes"][r["meta"]["scene_id"]]
        assert r["image"] in test_images and r["source"] == "unanswerable/uavqa"
        assert strict_ok(scene, r["meta"]) and (
            r["meta"]["criteria"]["not_depicted"] or r["meta"]["criteria"]["not_available"]
        )
    assert len({r["image"] for r in recs}) == 40  # one question per image
    again, _ = build_uavqa(world["test"], world["scenes"], 40, seed=1, gen=section(G))
    assert again == recs


def test_beyond_set_needs_information_beyond_the_image(world):
    recs, stats = build_beyond(world["test"], world["scenes"], 50, seed=0)
    assert len(recs) == 50 and len(stats["by_template"]) >= 5
    training_questions = {
        c["question"]
        for s in list(world["scenes"].values())[:50]
        for cat in templates.candidates(s).values()
        for cs in cat.values()
        for c in cs
    }
    for r in recs:
        assert r["meta"]["asks"]["type"] == "external" and r["meta"]["criteria"]["not_available"]
        assert r["question"] not in training_questions


def test_vizwiz_set_hides_the_asked_content(world, tmp_path):
    glyphs = {e["id"]: e["glyph"] for e in world["catalogue"]}
    recs, scenes = build_vizwiz(40, tmp_path / "vizwiz", seed=0, catalogue=world["catalogue"], emblem_share=0.3)
    assert len(recs) == 40 and {r["meta"]["degradation"] for r in recs} == {"blank", "blur", "dark", "occluder"}
    assert any(s["emblem"] is not None for s in scenes)
    for r, s in zip(recs, scenes):
        img = Image.open(r["image"])
        assert img.size == (32, 32) and img.format == "PNG"
        assert r["meta"]["criteria"]["not_available"] and strict_ok(s, r["meta"])
        assert r["meta"]["hidden_answer"] and r["answers"] == []
        mode = r["meta"]["degradation"]
        if mode in ("blank", "occluder"):  # the pixels are exactly those of the scene without the content
            bare = copy.deepcopy(s)
            if mode == "blank":
                bare["objects"], bare["emblem"] = [], None
            else:
                bare["objects"] = [o for o in bare["objects"] if not o.get("hidden")]
                if bare["emblem"] is not None and bare["emblem"].get("hidden"):
                    bare["emblem"] = None
            assert np.array_equal(np.asarray(render(s, glyphs)), np.asarray(render(bare, glyphs))), r["question"]
        elif mode == "dark":
            assert np.asarray(render({**s, "noise": 0.0}, glyphs)).max() <= 26
    again, _ = build_vizwiz(40, tmp_path / "again", seed=0, catalogue=world["catalogue"], emblem_share=0.3)
    assert [r["question"] for r in again] == [r["question"] for r in recs]


# --------------------------------------------------------------------------------------------
# parameters
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, data, msg",
    [
        (G, {"per_image": -1}, "unanswerable.generate.per_image = -1: must be an integer >= 1"),
        (G, {"n_images": -5}, "unanswerable.generate.n_images = -5: must be an integer >= 0"),
        (G, {"backend": "gpt"}, "unanswerable.generate.backend = 'gpt': must be one of template, openai"),
        (
            G,
            {"mix": {"swap": -1, "generate": 1}},
            "unanswerable.generate.mix = {'swap': -1, 'generate': 1}: must be weights >= 0 with at least one positive",
        ),
        (
            G,
            {"mix": {"swap": 0, "generate": 0}},
            "unanswerable.generate.mix = {'swap': 0, 'generate': 0}: must be weights >= 0 with at least one positive",
        ),
        (
            G,
            {"categories": {"absent": 0, "false_premise": 0, "not_available": 0}},
            "unanswerable.generate.categories = {'absent': 0, 'false_premise': 0, 'not_available': 0}: "
            "must be weights >= 0 with at least one positive",
        ),
        (
            G,
            {"per_imag": 2},
            "unanswerable.generate.per_imag = 2: unknown key; allowed: backend, categories, max_tokens, "
            "max_unparsed_frac, mix, model, n_images, per_image, seed, source, swap_tries, temperature",
        ),
        (F, {"backend": "human"}, "unanswerable.filter.backend = 'human': must be one of oracle, openai"),
        (F, {"max_unparsed_frac": 1.5}, "unanswerable.filter.max_unparsed_frac = 1.5: must be in [0, 1]"),
        (S, {"uavqa": -1}, "unanswerable.sets.uavqa = -1: must be an integer >= 0"),
        (
            S,
            {"vizwiz_modes": ["blank", "fog"]},
            "unanswerable.sets.vizwiz_modes[1] = 'fog': must be one of blank, blur, dark, occluder",
        ),
        (S, {"vizwiz_modes": []}, "unanswerable.sets.vizwiz_modes = []: must be a non-empty list"),
    ],
)
def test_config_errors_are_one_line_naming_the_key(name, data, msg):
    with pytest.raises(ParamError) as e:
        section(name, **data)
    assert str(e.value) == msg and "\n" not in msg


def test_unknown_mix_method_is_one_line_naming_the_key():
    with pytest.raises(ParamError) as e:
        section(G, mix={"swap": 1.0, "paraphrase": 1.0})
    msg = str(e.value)
    assert msg == "unanswerable.generate.mix.paraphrase: unknown key; allowed: generate, swap"


def test_whole_section_and_validation_before_work():
    cfg = section("unanswerable", generate={"per_image": 1}, filter={"strict": True})
    assert cfg.generate.per_image == 1 and cfg.filter.strict and cfg.sets.uavqa == 300
    with pytest.raises(ParamError, match=r"^unanswerable\.filter\.backend = 'x': must be one of oracle, openai$"):
        section("unanswerable", filter={"backend": "x"})
    # a config cannot be built by hand (or copied with changes) with a bad value: no work can start on one
    good = section(G)
    with pytest.raises(ValueError, match="backend"):
        UnanswerableGenerate(**{**good.model_dump(), "backend": "nope"})
    with pytest.raises(ValueError, match="backend"):
        good.replace(backend="nope")
    with pytest.raises(ValueError):
        good.replace(mix={"swap": 0.0})

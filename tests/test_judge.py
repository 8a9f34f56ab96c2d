"""Unit tests of the hybrid evaluator: normalisation, string matching, refusal detection, semantic judge."""

from __future__ import annotations

import random
import re
import typing

import numpy as np
import pytest

from helpers import section
from inbol.errors import ParamError
from inbol.judge import (
    PAPER_REFUSAL,
    REFUSAL_PROMPT,
    REFUSAL_TEMPLATES,
    NoSemanticJudge,
    SemanticJudge,
    build_messages,
    extract_choice,
    is_refusal,
    judge,
    judge_records,
    judge_samples,
    normalize_answer,
    parse_yes_no,
    pick_refusal,
    string_match,
)
from inbol.judge.llm_judge import LLMSemanticJudge, make_semantic_judge
from inbol.judge.normalize import process_punctuation
from inbol.params import Judge
from inbol.world.questions import CHOICE_INSTRUCTION, make_question

# The paper's appendix C (Figure 5) refusal templates, as printed in inbol-paper.txt (lines that the text
# extraction merged are split; the two "orry, ..." lines lost their "S" in extraction and appear both ways).
PAPER_APPENDIX_C = [
    "Sorry, I'm not sure about the answer to this question.",
    "Sorry, I don't have enough information to answer that.",
    "Sorry, I can't provide a definite answer to this query.",
    "Sorry, I don't have the expertise to answer this question.",
    "Sorry, I'm unable to provide an accurate response to this.",
    "Sorry, I can't help with that.",
    "Sorry, I can't help with this.",
    "orry, I can't help with that.",
    "orry, I can't help with this.",
    "Sorry, I can't help with it.",
    "Sorry, I can't answer that with the information I have.",
    "Sorry, I'm not familiar with that specific topic.",
    "Sorry, I need more context to answer this question properly.",
    "Sorry, this is outside my scope of information.",
    "Sorry, I'm not equipped to answer that question.",
    "Sorry, I don't have the data to respond to this query.",
    "Sorry, I don't know the answer to that.",
    "Sorry, I don't have the necessary information to answer this.",
    "Sorry, this question is outside my area of expertise.",
    "Sorry, I'm unable to provide a suitable answer.",
    "Sorry, I can't answer this question with certainty.",
    "Sorry, I don't have an answer for that right now.",
    "Sorry, I don't have an answer for that right how.",
    "Sorry, I can not help with that.",
    "Sorry, I can not help with this.",
    "Sorry, I can not help with it.",
]

NOT_REFUSALS = [
    "red",
    "2",
    "none",
    "no",
    "yes",
    "Kalo",
    "B",
    "left",
    "I think it is red",
    "not red, it is blue",
    "0",
    "None.",
    "No, there is no red circle.",
    "There are none.",
    "The answer is B.",
    "B. cross",
    "It can not roll.",
    "The circle is not clear blue, it is red.",
    "unknown shape",
    "gray",
    "No.",
    "Yes, there is.",
    "It is small.",
    "",
]


def _without_sorry(text: str) -> str:
    return re.sub(r"^\s*S?orry,?\s*", "", text)


# ----------------------------------------------------------------------------------------------- normalise


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("Red", "red"),
        ("red.", "red"),
        ("  The  Red\tone\n", "red 1"),
        ("two", "2"),
        ("Two.", "2"),
        ("zero", "0"),
        ("none", "0"),
        ("ten", "10"),
        ("a cat", "cat"),
        ("an apple", "apple"),
        ("the dog", "dog"),
        ("dont", "don't"),
        ("Dont know", "don't know"),
        ("isnt", "isn't"),
        ("Im here", "i'm here"),
        ("don\u2019t", "don't"),
        ("2.5", "2.5"),
        ("3.", "3"),
        (".5", ".5"),
        ("1,000", "1000"),
        ("black/white", "black white"),
        ("black / white", "black white"),
        ("yes!", "yes"),
        ("(B)", "b"),
        ("well-known", "well known"),
        ("e.g.", "eg"),
        ("Answer: red", "answer red"),
        ("**red**", "red"),
        ("", ""),
    ],
)
def test_normalize_answer(raw, expected):
    assert normalize_answer(raw) == expected


def test_normalize_none_input():
    assert normalize_answer(None) == ""


def test_process_punctuation_follows_vqa_rules():
    # a mark next to a space is deleted, otherwise it becomes a space; a digit,digit comma deletes all marks
    assert process_punctuation("a, b") == "a b"
    assert process_punctuation("a,b") == "a b"
    assert process_punctuation("1,000,000 cars") == "1000000 cars"
    assert process_punctuation("1,5-2") == "152"
    assert process_punctuation("it's") == "it's"  # the apostrophe is not punctuation in VQA


# ----------------------------------------------------------------------------------------------- open


def _open(answers, qid="q1"):
    return {
        "id": qid,
        "source": "perception",
        "image": "img.png",
        "question": "What color is the circle?",
        "answers": list(answers),
        "kind": "open",
        "meta": {},
    }


@pytest.mark.parametrize(
    "response",
    [
        "red",
        "Red",
        "red.",
        " RED ",
        "The red",
        "red, i think",
        "It is red.",
        "the object is red",
        "The answer is red",
        "I think it is red",
        "red circle",
        "It's red.",
    ],
)
def test_open_match_accepts(response):
    assert string_match(response, _open(["red"]))


@pytest.mark.parametrize(
    "response",
    [
        "blue",
        "red or blue",
        "not red, it is blue",
        "blue, not red",
        "reddish",
        "It is not red.",
        "I see a large red circle next to a small square",
        "",
        "   ",
        "0",
    ],
)
def test_open_match_rejects(response):
    assert not string_match(response, _open(["red"]))


def test_open_match_numbers_and_variants():
    rec = _open(["2", "two"])
    for r in ["2", "two", "Two.", "2 objects", "There are 2.", "there are two shapes"]:
        assert string_match(r, rec), r
    for r in ["3", "twenty", "2 or 3", "12"]:
        assert not string_match(r, rec), r
    zero = _open(["0", "zero"])
    assert string_match("none", zero) and string_match("None.", zero) and string_match("zero", zero)
    assert string_match("grey", _open(["gray", "grey"]))
    assert string_match("On the left.", _open(["left", "on the left", "left side"]))
    assert not string_match("on the right", _open(["left", "on the left", "left side"]))


def test_open_match_yes_no():
    assert string_match("Yes", _open(["yes"]))
    assert string_match("Yes, there is.", _open(["yes"]))
    assert not string_match("No", _open(["yes"]))
    assert not string_match("yes and no", _open(["yes"]))
    assert string_match("No, there is not.", _open(["no"]))


def test_open_match_strict_mode():
    rec = _open(["red"])
    assert string_match("Red.", rec, lenient=False)
    assert not string_match("It is red.", rec, lenient=False)


def test_open_match_multiword_answer():
    rec = _open(["Kalo Veri"])
    assert string_match("kalo veri", rec)
    assert string_match("This is Kalo Veri.", rec)
    assert not string_match("Kalo", rec)


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="unknown kind"):
        string_match("red", {"id": "x", "answers": ["red"], "kind": "essay"})


# ----------------------------------------------------------------------------------------------- choice


def _choice(choices=("circle", "cross", "square", "triangle"), letter="B"):
    letters = "ABCDEFGH"
    text = "\n".join(
        ["What shape is the red object?"] + [f"{letters[i]}. {c}" for i, c in enumerate(choices)] + [CHOICE_INSTRUCTION]
    )
    return {
        "id": "c1",
        "source": "choice",
        "image": "img.png",
        "question": text,
        "answers": [letter],
        "kind": "choice",
        "choices": list(choices),
        "meta": {"answer_text": choices[letters.index(letter)]},
    }


@pytest.mark.parametrize(
    "response",
    [
        "B",
        "b",
        "B.",
        "(B)",
        "B)",
        "B:",
        "(B) cross",
        "B. cross",
        "B cross",
        "The answer is B",
        "The answer is B.",
        "Answer: B",
        "answer: (B)",
        "The correct option is (B).",
        "Option B",
        "cross",
        "Cross.",
        "It is a cross.",
        "**B**",
        " B\n",
    ],
)
def test_choice_accepts(response):
    assert string_match(response, _choice())


@pytest.mark.parametrize(
    "response",
    [
        "A",
        "C.",
        "(D) triangle",
        "The answer is A",
        "circle",
        "square",
        "(A) or (B)",
        "A or B",
        "E",
        "Z",
        "",
        "I",
        "cross or circle",
    ],
)
def test_choice_rejects(response):
    assert not string_match(response, _choice())


def test_extract_choice_details():
    ch = ["circle", "cross", "square", "triangle"]
    assert extract_choice("B. cross", ch) == "B"
    assert extract_choice("A circle", ch) == "A"  # letter + its own option text
    assert extract_choice("A cross", ch) == "B"  # "A" is an article here: the text picks B
    assert extract_choice("E", ch) is None  # not an option
    assert extract_choice("(A) and (B)", ch) is None  # two letters
    assert extract_choice("the answer is a cross", ch) == "B"
    assert extract_choice("B", None) == "B"  # no choices listed: any letter A-H


def test_choice_numeric_options():
    rec = _choice(choices=("3", "1", "2", "5"), letter="C")
    assert string_match("C", rec)
    assert string_match("2", rec)
    assert string_match("two", rec)
    assert not string_match("1", rec)


def test_choice_record_from_world():
    scene = {"id": "s0", "objects": [{"shape": "circle", "color": "red", "size": "small", "col": 0, "row": 0}]}
    rec = make_question(
        scene, "color", {"shape": "circle"}, np.random.default_rng(0), family="choice", catalogue=[], n_options=4
    )
    letter, text = rec["answers"][0], rec["meta"]["answer_text"]
    wrong = next(c for c in rec["choices"] if c != text)
    assert string_match(letter, rec) and string_match(f"{letter}. {text}", rec) and string_match(text, rec)
    assert not string_match(wrong, rec)
    assert judge(letter, rec) == "correct"


def test_unanswerable_never_correct():
    rec = {"id": "u1", "question": "What is the dog's name?", "answers": ["red"], "kind": "unanswerable"}
    assert not string_match("red", rec)
    assert judge("red", rec) == "incorrect"
    assert judge(PAPER_REFUSAL, rec) == "refusal"


# ----------------------------------------------------------------------------------------------- refusals


def test_paper_refusal_prompt_and_template():
    assert PAPER_REFUSAL == "Sorry, I can not help with it."
    assert (
        REFUSAL_PROMPT
        == 'If you don\'t have enough information to answer the question, respond with "Sorry, I can not help with it."'
    )
    assert PAPER_REFUSAL in REFUSAL_TEMPLATES


def test_templates_are_about_thirty_and_distinct():
    assert 25 <= len(REFUSAL_TEMPLATES) <= 40
    assert len(set(REFUSAL_TEMPLATES)) == len(REFUSAL_TEMPLATES)
    # the project's own list: apart from the paper's canonical refusal, not a copy of appendix C
    overlap = set(REFUSAL_TEMPLATES) & set(PAPER_APPENDIX_C)
    assert overlap <= {PAPER_REFUSAL, "Sorry, I can not help with that.", "Sorry, I can not help with this."}


@pytest.mark.parametrize("text", PAPER_APPENDIX_C)
def test_paper_appendix_c_phrases_are_refusals(text):
    assert is_refusal(text)
    # also without the leading "Sorry": the phrase patterns, not only the word "sorry", catch them
    assert is_refusal(_without_sorry(text))


@pytest.mark.parametrize("text", REFUSAL_TEMPLATES)
def test_own_templates_are_refusals(text):
    assert is_refusal(text)
    assert is_refusal(_without_sorry(text))
    assert is_refusal(text.upper())
    assert is_refusal(text.lower().rstrip("."))


@pytest.mark.parametrize(
    "text",
    [
        "I don't know",
        "i dont know",
        "I do not know.",
        "IDK",
        "I don\u2019t know!",
        "Not sure.",
        "I'm not sure",
        "Im not sure",
        "no idea",
        "Unanswerable.",
        "This question is unanswerable.",
        "It cannot be determined.",
        "can't tell",
        "I cant tell.",
        "I can not tell from the picture.",
        "I am unable to answer.",
        "There is no way to know.",
        "There's no way of telling.",
        "not enough information",
        "The image does not provide enough information.",
        "Insufficient information.",
        "Sorry.",
        "It's impossible to say.",
        "Hard to tell.",
        "unknown",
        "Unclear.",
        "It is not clear from the image.",
        "I'm not able to determine that.",
        "I need more information.",
        "That is beyond my knowledge.",
        "I'd rather not guess.",
        "The answer can't be determined from the image.",
        "N/A",
    ],
)
def test_common_refusal_patterns(text):
    assert is_refusal(text)


@pytest.mark.parametrize("text", NOT_REFUSALS)
def test_ordinary_answers_are_not_refusals(text):
    assert not is_refusal(text)


def test_refusal_detection_runs_on_raw_text():
    # VQA normalisation turns "none" into "0"; detection must not depend on it
    assert normalize_answer("none") == "0"
    assert not is_refusal("none")
    assert judge("none", _open(["0", "zero"])) == "correct"


def test_pick_refusal_is_seeded():
    a = [pick_refusal(random.Random(3)) for _ in range(3)]
    assert len(set(a)) == 1 and a[0] in REFUSAL_TEMPLATES
    assert pick_refusal(np.random.default_rng(1)) in REFUSAL_TEMPLATES
    assert pick_refusal() in REFUSAL_TEMPLATES


# ----------------------------------------------------------------------------------------------- judge


class ScriptedJudge(SemanticJudge):
    """Says yes when the response is in ``yes``; records what it was asked."""

    name = "scripted"

    def __init__(self, yes=()):
        super().__init__()
        self.yes = set(yes)
        self.batches = []

    def judge_batch(self, items):
        self.batches.append(list(items))
        out = [resp in self.yes for _, _, resp in items]
        self._record(out)
        return out


def test_judge_order_and_semantic():
    rec = _open(["United Kingdom", "UK"])
    sem = ScriptedJudge(yes={"England", "Sorry, England maybe"})
    assert judge("UK", rec, sem) == "correct" and sem.batches == []  # string match first
    assert judge("Sorry, England maybe", rec, sem) == "refusal"  # refusal before everything
    assert judge("England", rec, sem) == "correct"  # semantic rescue
    assert judge("France", rec, sem) == "incorrect"
    assert judge("England", rec) == "incorrect"  # no semantic judge
    assert judge("England", rec, NoSemanticJudge()) == "incorrect"


def test_judge_records_batches_only_open_string_rejected():
    recs = [
        _open(["United Kingdom"], "a"),
        _open(["red"], "b"),
        _choice(),
        _open(["red"], "d"),
        {"id": "u", "question": "q?", "answers": [], "kind": "unanswerable"},
        _open(["United Kingdom"], "f"),
    ]
    resps = ["England", "red", "circle", "I don't know", "England", "England"]
    sem = ScriptedJudge(yes={"England"})
    stats = {}
    out = judge_records(recs, resps, sem, stats=stats)
    assert out == ["correct", "correct", "incorrect", "refusal", "incorrect", "correct"]
    # one batch, one deduplicated item (a and f share question, answers and response); the choice,
    # the refusal, the string match and the unanswerable question are not sent
    assert len(sem.batches) == 1 and len(sem.batches[0]) == 1
    q, refs, resp = sem.batches[0][0]
    assert refs == ["United Kingdom"] and resp == "England" and q == recs[0]["question"]
    assert stats == {
        "responses": 6,
        "refusal": 1,
        "string_correct": 1,
        "semantic_checked": 1,
        "semantic_correct": 2,
        "incorrect": 2,
    }


def test_judge_records_without_semantic_makes_no_calls():
    recs = [_open(["red"]), _open(["red"])]
    assert judge_records(recs, ["red", "blue"]) == ["correct", "incorrect"]
    assert judge_records(recs, ["red", "blue"], NoSemanticJudge()) == ["correct", "incorrect"]
    with pytest.raises(ValueError, match="2 records but 1 responses"):
        judge_records(recs, ["red"])


def test_judge_samples_shapes():
    recs = [_open(["red"]), _choice()]
    out = judge_samples(recs, [["red", "blue", "Sorry, I can not help with it."], ["B", "A"]])
    assert out == [["correct", "incorrect", "refusal"], ["correct", "incorrect"]]
    assert judge_samples([], []) == []


def test_no_semantic_judge():
    j = NoSemanticJudge()
    assert j.judge_batch([("q", ["a"], "b"), ("q", ["a"], "a")]) == [False, False]
    assert j.stats["calls"] == 2 and j.stats["equivalent"] == 0


@pytest.mark.parametrize(
    "reply, expected",
    [
        ("yes", True),
        ("Yes.", True),
        ("YES", True),
        ("**Yes**", True),
        ("yes, they match", True),
        ("no", False),
        ("No.", False),
        ("No, different.", False),
        ("not equivalent", False),
        ("The answer is yes.", True),
        ("Answer: no", False),
        ("True", True),
        ("false", False),
        ("", None),
        ("maybe", None),
        ("yes and no", True),
        ("I think so, but no... yes", None),
        (None, None),
    ],
)
def test_parse_yes_no(reply, expected):
    assert parse_yes_no(reply) is expected


def test_build_messages_contains_question_refs_response():
    msgs = build_messages("What country?", ["United Kingdom", "UK"], "England")
    assert msgs[0]["role"] == "system" and msgs[1]["role"] == "user"
    body = msgs[1]["content"]
    assert "What country?" in body and "United Kingdom | UK" in body and "England" in body
    assert "yes" in body.lower() and "no" in body.lower()


# ----------------------------------------------------------------------------------------------- config


def test_judge_config_and_validation():
    c = section("judge")
    assert c.backend == "none" and c.endpoint.model == "gpt-4o-mini" and c.endpoint.base_url is None
    assert set(typing.get_args(Judge.model_fields["backend"].annotation)) == {"none", "openai"}
    c = section("judge", backend="openai", endpoint={"base_url": "http://127.0.0.1:8000/v1"})
    sem = make_semantic_judge(c)  # builds its client on judge.endpoint (no request is made)
    assert isinstance(sem, LLMSemanticJudge) and sem.max_tokens == c.max_tokens
    assert sem.client.defaults["temperature"] == 0.0 and sem.client.endpoint.base_url == "http://127.0.0.1:8000/v1"
    assert sem.client.defaults["max_tokens"] == c.max_tokens
    sem.client.close()


@pytest.mark.parametrize(
    "bad, msg",
    [
        ({"backend": "llama"}, "judge.backend = 'llama': must be one of none, openai"),
        ({"max_tokens": 0}, "judge.max_tokens = 0: must be an integer in [1, 4096]"),
        ({"lenient": "yes"}, "judge.lenient = 'yes': must be true or false"),
        (
            {"endpoint": {"base_url": "localhost:8000"}},
            "judge.endpoint.base_url = 'localhost:8000': must be null or an http(s):// URL",
        ),
        ({"endpoint": {"concurrency": 0}}, "judge.endpoint.concurrency = 0: must be an integer in [1, 1024]"),
        ({"endpoint": {"timeout_s": 0}}, "judge.endpoint.timeout_s = 0: must be > 0"),
        ({"endpoint": {"model": " "}}, "judge.endpoint.model = ' ': must be a non-empty string"),
        (
            {"endpoint": {"api_key_env": "MY KEY"}},
            "judge.endpoint.api_key_env = 'MY KEY': must be an environment variable name (letters, digits, _)",
        ),
        ({"colour": 1}, "judge.colour = 1: unknown key; allowed: backend, endpoint, lenient, max_tokens"),
    ],
)
def test_judge_config_errors_are_one_line(bad, msg):
    with pytest.raises(ParamError) as e:
        section("judge", **bad)
    assert str(e.value) == msg and "\n" not in msg


def test_make_semantic_judge_none():
    assert isinstance(make_semantic_judge(section("judge", backend="none")), NoSemanticJudge)


# ----------------------------------------------------------------------------------------------- openai backend


def test_openai_semantic_judge_against_fake_server(fake_openai, tmp_path, monkeypatch):
    monkeypatch.setenv("INBOL_TEST_JUDGE_KEY", "sk-judge-secret")

    def answer(body, i):
        text = body["messages"][-1]["content"]
        resp = text.split("Model response:")[1].splitlines()[0].strip()
        return {"England": "Yes.", "France": "No", "Britain": "Hmm, hard to say"}[resp]

    fake_openai.answer = answer
    cfg = section(
        "judge",
        backend="openai",
        endpoint={
            "model": "judge-model",
            "base_url": fake_openai.url,
            "cache_dir": str(tmp_path),
            "api_key_env": "INBOL_TEST_JUDGE_KEY",
            "concurrency": 2,
        },
    )
    sem = make_semantic_judge(cfg)
    assert isinstance(sem, LLMSemanticJudge)
    recs = [
        _open(["United Kingdom"], "a"),
        _open(["United Kingdom"], "b"),
        _open(["United Kingdom"], "c"),
        _open(["United Kingdom"], "d"),
    ]
    out = judge_records(recs, ["England", "France", "Britain", "United Kingdom"], sem)
    assert out == ["correct", "incorrect", "incorrect", "correct"]
    assert fake_openai.n_requests == 3
    assert sem.stats == {"calls": 3, "equivalent": 1, "unparseable": 1}
    for body in fake_openai.bodies():
        assert body["model"] == "judge-model" and body["temperature"] == 0.0 and body["n"] == 1
    assert all(r["headers"]["authorization"] == "Bearer sk-judge-secret" for r in fake_openai.requests)
    # a second run is served from the cache
    judge_records(recs, ["England", "France", "Britain", "United Kingdom"], sem)
    assert fake_openai.n_requests == 3
    for p in tmp_path.rglob("*"):
        if p.is_file():
            assert "sk-judge-secret" not in p.read_text()


def test_pick_refusal_from_the_first_n_templates():
    import random

    from inbol.judge.refusal import PAPER_REFUSAL, REFUSAL_TEMPLATES, pick_refusal

    assert {pick_refusal(random.Random(i), 1) for i in range(20)} == {PAPER_REFUSAL}
    assert {pick_refusal(random.Random(i), 3) for i in range(200)} == set(REFUSAL_TEMPLATES[:3])
    assert len({pick_refusal(random.Random(i)) for i in range(500)}) > 10


# ------------------------------------------------------------------------------------------------------
# VQA accuracy: the official vqaEval.py, where it and a normalisation of both sides disagree.  Each expected
# value is worked out by hand from the script: the response goes through processPunctuation and
# processDigitArticle; the annotators' answers go through processPunctuation only, and only when they are not
# all the same; acc = mean over annotators i of min(1, #{j != i matching} / 3).
# ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "response, gts, expected",
    [
        # "none" becomes "0" in the response only: no annotator's "none" ever matches (both sides normalised: 0.3)
        ("none", ["none"] + ["no"] * 9, 0.0),
        ("none", ["none"] * 10, 0.0),
        # ...while an annotator's "0" does
        ("none", ["0"] * 10, 1.0),
        # number words: the response's "two" is "2"; the annotators' "two" stays "two"
        ("two", ["two"] * 10, 0.0),
        ("two", ["two"] * 4 + ["2"] * 6, 1.0),
        # articles are dropped from the response only: "the beach" never matches an annotator's "the beach"
        ("the beach", ["the beach"] * 9 + ["sand"], 0.0),
        ("beach", ["the beach"] * 9 + ["sand"], 0.0),
        # unanimous annotators are compared raw: "t-shirt" (the response's "-" becomes a space) does not match...
        ("t-shirt", ["t-shirt"] * 10, 0.0),
        # ...but as soon as one annotator disagrees, theirs lose the "-" too: 6 matches, every annotator scores 1
        ("t-shirt", ["t-shirt"] * 6 + ["shirt"] * 4, 1.0),
        # the annotators are not lower-cased, the response is
        ("Red", ["Red"] * 10, 0.0),
        # a refusal scores what its text scores: here 1 of 10 annotators said it (9 x 1/3 + 0) / 10
        ("I don't know", ["i don't know"] + ["yes"] * 9, 0.3),
    ],
)
def test_vqa_accuracy_scores_as_the_official_script(response, gts, expected):
    from inbol.judge.vqa_accuracy import vqa_accuracy

    assert vqa_accuracy(response, gts) == pytest.approx(expected)


def test_vqa_accuracy_punctuation_and_period_rules_are_the_scripts():
    from inbol.judge.vqa_accuracy import process_digit_article, process_punctuation, vqa_accuracy

    # a mark next to a space is deleted, elsewhere replaced by a space; with a digit-comma-digit all are deleted
    assert process_punctuation("red, white") == "red white"
    assert process_punctuation("black/white") == "black white"
    assert process_punctuation("1,000 (approx)") == "1000 approx"
    # periods go unless a digit follows ("2.5" and ".5" keep theirs), at most 32 of them
    assert process_punctuation("2.5 m.") == "2.5 m"
    assert process_punctuation("." * 40) == "." * 8
    # the response: lower case, digits, no articles, contractions restored with their apostrophe
    assert process_digit_article("The Two dogs dont") == "2 dogs don't"
    assert vqa_accuracy("1,000", ["1000"] * 10) == 1.0
    assert vqa_accuracy("Red.", ["red"] * 3 + ["dark red"] * 2 + ["maroon"] + ["blue"] * 4) == pytest.approx(0.9)


def test_vqa_accuracy_2021_revision_normalises_both_sides_only_when_annotators_disagree():
    from inbol.judge.vqa_accuracy import VERSION_2021, vqa_accuracy

    # disagreeing annotators: both sides get both rules, so "none" matches the one "none" (9 x 1/3 + 0) / 10
    assert vqa_accuracy("none", ["none"] + ["no"] * 9, version=VERSION_2021) == pytest.approx(0.3)
    # unanimous annotators: nothing is normalised, so "Yes" is not "yes" (the 2016 script gives 1)
    assert vqa_accuracy("Yes", ["yes"] * 10, version=VERSION_2021) == 0.0
    assert vqa_accuracy("Yes", ["yes"] * 10) == 1.0
    with pytest.raises(ValueError, match="version = '2020'"):
        vqa_accuracy("yes", ["yes"], version="2020")

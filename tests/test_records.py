"""The records between stages (inbol.records): each is checked against its schema when a stage reads its file,
and a bad one is one line naming the file, the line, the field and what is expected.  Unknown fields: kept on a
question record (loaders and later stages add their own), an error on the others (one writer each: an unknown
field is a misspelt one)."""

from __future__ import annotations

import json

import pytest

from inbol.errors import DataError
from inbol.io import read_jsonl, write_jsonl
from inbol.records import (
    Instruction,
    JudgedSample,
    Prediction,
    Preference,
    PreferencePair,
    Question,
    Sample,
    read_records,
)

# one record of each schema as its writer produces it
GOOD = {
    Question: {
        "id": "pool-00001",
        "source": "world/pool",
        "image": "data/world/images/pool/pool-00001.png",
        "question": "What colour is the square?",
        "answers": ["red", "crimson"],
        "kind": "open",
        "meta": {"family": "perception", "qtype": "color", "target": {"shape": "square"}, "difficulty": 0.3},
    },
    Sample: {"id": "pool-00001", "responses": ["red", "blue", "I don't know."]},
    JudgedSample: {
        "id": "pool-00001",
        "responses": ["red", "blue", "I don't know."],
        "correct": [True, False, False],
        "refusal": [False, False, True],
    },
    Prediction: {
        "id": "test-00001",
        "set": "perception",
        "response": "red",
        "verdict": "correct",
        "conf_base": 0.6,
        "p_refusal": 0.012345,
    },
    Instruction: {
        "id": "pool-00001",
        "image": "data/world/images/pool/pool-00001.png",
        "prompt": "What colour is the square?",
        "completion": "red",
        "bucket": "known",
        "origin": "vqa",
    },
    Preference: {
        "id": "pool-00001",
        "image": "data/world/images/pool/pool-00001.png",
        "prompt": "What colour is the square?",
        "p1": {"chosen": "red", "rejected": "blue"},
        "p2": {"chosen": "I don't know.", "rejected": "blue"},
        "conf": 0.4,
        "bucket": "mixed",
        "origin": "vqa",
    },
    PreferencePair: {
        "id": "pool-00001/p1",
        "qid": "pool-00001",
        "image": "data/world/images/pool/pool-00001.png",
        "prompt": "What colour is the square?",
        "chosen": "red",
        "rejected": "blue",
        "bucket": "mixed",
        "origin": "vqa",
        "pair": "p1",
        "weight": 1.0,
    },
}

# per schema: a required field, and a field set to a value of the wrong type -> (value, what is expected)
MISSING = {
    Question: ("answers", "a list of strings"),
    Sample: ("responses", "a list of strings"),
    JudgedSample: ("correct", "a list of true/false"),
    Prediction: ("verdict", "correct, refusal or incorrect"),
    Instruction: ("completion", "a string"),
    Preference: ("p2", "an object {chosen, rejected} of strings"),
    PreferencePair: ("rejected", "a string"),
}
WRONG = {
    Question: ("answers", ["red", 3], "answers[1]", "a list of strings"),
    Sample: ("responses", "red", "responses", "a list of strings"),
    JudgedSample: ("refusal", [0, 1, 0], "refusal[0]", "a list of true/false"),
    Prediction: ("verdict", "right", "verdict", "correct, refusal or incorrect"),
    Instruction: ("prompt", None, "prompt", "a string"),
    Preference: ("conf", "0.4", "conf", "a number"),
    PreferencePair: ("weight", True, "weight", "a number"),
}
SCHEMAS = list(GOOD)


def _file(tmp_path, records):
    path = tmp_path / "records.jsonl"
    write_jsonl(path, records)
    return path


def _error(tmp_path, schema, bad: dict) -> tuple[str, str]:
    """(the path, the one-line error) of a file whose second line is ``bad``."""
    path = _file(tmp_path, [GOOD[schema], bad])
    with pytest.raises(DataError) as e:
        read_records(path, schema)
    msg = str(e.value)
    assert "\n" not in msg
    return str(path), msg


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
def test_what_the_writers_produce_is_read_back_unchanged(tmp_path, schema):
    path = _file(tmp_path, [GOOD[schema]])
    assert read_records(path, schema) == read_jsonl(path) == [GOOD[schema]]


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
def test_a_missing_field_names_file_line_and_field(tmp_path, schema):
    field, expected = MISSING[schema]
    bad = {k: v for k, v in GOOD[schema].items() if k != field}
    path, msg = _error(tmp_path, schema, bad)
    assert msg == f"{path}:2: record {bad['id']!r} lacks field {field!r} (expected {expected})"


@pytest.mark.parametrize("schema", SCHEMAS, ids=lambda s: s.__name__)
def test_a_wrong_type_names_file_line_field_and_what_is_expected(tmp_path, schema):
    field, value, where, expected = WRONG[schema]
    bad = {**GOOD[schema], field: value}
    path, msg = _error(tmp_path, schema, bad)
    assert msg.startswith(f"{path}:2: record {bad['id']!r} field {where!r} = ")
    assert f": expected {expected}" in msg


@pytest.mark.parametrize("schema", [s for s in SCHEMAS if s is not Question], ids=lambda s: s.__name__)
def test_an_unknown_field_is_an_error_on_a_record_with_one_writer(tmp_path, schema):
    bad = {**GOOD[schema], "weigth": 1.0}
    path, msg = _error(tmp_path, schema, bad)
    assert msg.startswith(
        f"{path}:2: record {bad['id']!r} has unknown field 'weigth' (a {schema.what} record has: id, "
    )


def test_an_unknown_field_of_a_question_is_kept(tmp_path):
    """Question records carry what their loader and the stages after the world add (here: the restructured
    pool's conf and responses): read back as written."""
    extra = {**GOOD[Question], "conf": 0.5, "correct_response": "red", "origin": "vqa"}
    path = _file(tmp_path, [extra])
    assert read_records(path, Question) == [extra]


def test_a_nested_field_and_a_line_that_is_no_object(tmp_path):
    bad = {**GOOD[Preference], "p1": {"chosen": "red"}}
    path, msg = _error(tmp_path, Preference, bad)
    assert msg == f"{path}:2: record 'pool-00001' lacks field 'p1.rejected' (expected a string)"
    path = tmp_path / "list.jsonl"
    path.write_text(json.dumps(GOOD[Sample]) + "\n\n" + json.dumps(["pool-00002", []]) + "\n")
    with pytest.raises(DataError, match=rf"^{path}:3: not a JSON object: .* \(expected a sample record\)$"):
        read_records(path, Sample)


def test_strict_json_types_no_coercion(tmp_path):
    """An answer 3 is not the string "3", a flag 1 is not true; an integer is a number (conf 1)."""
    for schema, field, value in ((Question, "answers", [3]), (JudgedSample, "correct", [1, 0, 0])):
        with pytest.raises(DataError, match=f"field '{field}\\[0\\]'"):
            read_records(_file(tmp_path, [{**GOOD[schema], field: value}]), schema)
    assert read_records(_file(tmp_path, [{**GOOD[Preference], "conf": 1}]), Preference)[0]["conf"] == 1


def test_an_empty_id_and_an_empty_file(tmp_path):
    path, msg = _error(tmp_path, Prediction, {**GOOD[Prediction], "id": ""})
    assert msg.startswith(f"{path}:2: record field 'id' = '': expected a non-empty string")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert read_records(empty, Sample) == []
    with pytest.raises(DataError, match="empty input"):
        read_records(empty, Sample, nonempty=True)


def test_what_the_writers_write_fits_the_schemas(tiny_world):
    """The world's splits, the constructed sets, judged samples and predictions as their writers produce them
    (a writer that gains a field needs it in its schema: this fails first)."""
    from helpers import section
    from inbol.boundary import construct
    from inbol.confidence import judge_split
    from inbol.evaluation import judge_sets, make_testset
    from inbol.records import check
    from test_boundary import _inputs

    for path in sorted(tiny_world["dir"].glob("*.jsonl")):
        if path.name != "scenes.jsonl":
            assert read_records(path, Question), path
    pool = read_records(tiny_world["dir"] / "pool.jsonl", Question)
    judged = judge_split(pool, [{"id": r["id"], "responses": ["red", "I don't know."]} for r in pool])
    assert [check(j, JudgedSample, "judged") for j in judged] == judged
    ts = {"perception": make_testset("perception", pool[:5], "in_domain", True)}
    preds = judge_sets(ts, {"perception": [("red", 0.25)] * 5})
    assert [check(p, Prediction, "predictions") for p in preds] == preds

    rs, kept = _inputs()
    sets, _ = construct(
        rs,
        kept,
        delta_k=0.8,
        delta_uk=0.2,
        idk_it=section("idk_it", size=10),
        preference=section("preference", size=10),
        sft=section("sft", size=10),
        seed=0,
    )
    schema = {"idk_it": Instruction, "sft": Instruction, "preference": Preference}
    for name, records in sets.items():
        assert records, name
        for r in records:
            check(r, schema.get(name, PreferencePair), name)

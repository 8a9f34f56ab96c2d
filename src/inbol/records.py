"""The records that pass between stages (JSON Lines files), one pydantic schema each, checked once when a stage
reads a file, before any work.

- :class:`Question`: a question of the world, of a release data set or of an unanswerable set
  ``{id, source, image, question, answers, kind, choices?, meta}`` (``inbol.world``, ``inbol.datasets``,
  ``inbol.unanswerable``); the stages after them add their own fields (the restructured pool: ``conf``,
  the sampled responses; a test set: ``conf_base``);
- :class:`Sample`: the K sampled responses of a question ``{id, responses}`` (``inbol.sampling``), with the
  judge's verdicts ``correct`` and ``refusal`` (K booleans each) once judged;
- :class:`Prediction`: one greedy answer of an evaluated model ``{id, set, response, verdict, conf_base,
  p_refusal?}`` (``inbol.evaluation.judge_sets``);
- the constructed training sets (``inbol.boundary.sets``): :class:`Instruction` (IDK-IT, SFT
  ``{id, image, prompt, completion}``), :class:`Preference` (CA-DPO ``{id, image, prompt, p1, p2, conf}``)
  and :class:`PreferencePair` (plain DPO ``{id, qid, image, prompt, chosen, rejected, weight}``).

A bad record is a one-line :class:`~inbol.errors.DataError` naming the file, the line, the record, the field
and what is expected: ``data/world/pool.jsonl:7: record 'pool-00006' lacks field 'answers' (expected a list
of strings)``.  The readers return the records as read (checked, not converted), so the code that follows
reads them as before and every file a stage writes stays byte for byte what it was.  Types are strict
(JSON's own: an answer ``3`` is not the string ``"3"``; an integer is a number).

Unknown fields: a question record may carry more than its schema (each release loader and each stage after
the world adds its own fields), so they are kept.  Every other record has one writer, and an unknown field
there is a misspelt one (a ``weigth`` would train with the default weight), so it is an error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import DataError
from .io import iter_jsonl_lines

Id = Annotated[str, Field(min_length=1, description="a non-empty string")]
Text = Annotated[str, Field(description="a string")]
Texts = Annotated[list[str], Field(description="a list of strings")]
Number = Annotated[float, Field(description="a number")]
OptId = Annotated[str | None, Field(min_length=1, description="a non-empty string")]
OptBucket = Annotated[Literal["known", "mixed", "unknown"] | None, Field(description="known, mixed or unknown")]
OptOrigin = Annotated[Literal["vqa", "unanswerable"] | None, Field(description="vqa or unanswerable")]
OptFlags = Annotated[list[bool] | None, Field(description="a list of true/false")]
OptNumber = Annotated[float | None, Field(description="a number or null")]


class Record(BaseModel):
    """A record of a JSON Lines file (strict JSON types; unknown fields are errors unless a schema allows them)."""

    model_config = ConfigDict(strict=True, extra="forbid")
    what: ClassVar[str] = "record"  # how an error names the kind of record


class Question(Record):
    """A question: open (``answers``: the accepted answers), multiple choice (``answers``: the letter,
    ``choices``: the options) or unanswerable (no answers).  Further fields are kept (see the module)."""

    model_config = ConfigDict(extra="allow")
    what: ClassVar[str] = "question"
    id: Id
    image: Annotated[str | None, Field(description="an image path")]  # a missing one: sampling's bad data
    question: Text
    answers: Texts
    kind: Annotated[Literal["open", "choice", "unanswerable"], Field(description="open, choice or unanswerable")]
    choices: Annotated[list[str] | None, Field(description="a list of strings")] = None
    meta: Annotated[dict[str, Any], Field(description="an object")] = {}
    source: Text = ""


class Sample(Record):
    """The K sampled responses of one question, and once judged the verdict of each."""

    what: ClassVar[str] = "sample"
    id: Id
    responses: Texts
    correct: OptFlags = None
    refusal: OptFlags = None


class JudgedSample(Sample):
    """A sample record after the judge: ``correct`` and ``refusal`` (one verdict per response) are required."""

    what: ClassVar[str] = "judged sample"
    correct: Annotated[list[bool], Field(description="a list of true/false")]
    refusal: Annotated[list[bool], Field(description="a list of true/false")]


class Prediction(Record):
    """One evaluated answer: the model's response to question ``id`` of test set ``set`` and its verdict."""

    what: ClassVar[str] = "prediction"
    id: Id
    set: Id
    response: Text
    verdict: Annotated[Literal["correct", "refusal", "incorrect"], Field(description="correct, refusal or incorrect")]
    conf_base: OptNumber = None
    p_refusal: OptNumber = None


class Instruction(Record):
    """An IDK-IT or SFT example: the question (``prompt``) and the answer or refusal to learn."""

    what: ClassVar[str] = "instruction"
    id: Id
    image: Text
    prompt: Text
    completion: Text
    bucket: OptBucket = None
    origin: OptOrigin = None


class Pair(Record):
    chosen: Text
    rejected: Text


PairField = Annotated[Pair, Field(description="an object {chosen, rejected} of strings")]


class Preference(Record):
    """A CA-DPO question: pair p1 weighted by ``conf``, pair p2 by 1 - conf."""

    what: ClassVar[str] = "preference"
    id: Id
    qid: OptId = None
    image: Text
    prompt: Text
    p1: PairField
    p2: PairField
    conf: Number
    bucket: OptBucket = None
    origin: OptOrigin = None


class PreferencePair(Record):
    """A plain-DPO row: one pair (``pair``: which of the question's, p1 or p2) with weight 1."""

    what: ClassVar[str] = "preference pair"
    id: Id
    qid: OptId = None
    image: Text
    prompt: Text
    chosen: Text
    rejected: Text
    bucket: OptBucket = None
    origin: OptOrigin = None
    pair: Annotated[Literal["p1", "p2"] | None, Field(description="p1 or p2")] = None
    weight: Number = 1.0


# --------------------------------------------------------------------------------------------
# checking and reading
# --------------------------------------------------------------------------------------------


def _field(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _expected(schema: type[Record], loc: tuple) -> str:
    """What the schema expects at ``loc``: the description of the field (of a nested record's field)."""
    model, desc = schema, ""
    for part in loc:
        info = model.model_fields.get(part) if isinstance(part, str) and model is not None else None
        if info is None:
            break
        desc = info.description or desc
        ann = info.annotation
        model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
    return desc


def problem(record: Any, schema: type[Record]) -> str | None:
    """None when ``record`` is a valid ``schema`` record, else what is wrong in one line (record id, field,
    what is expected)."""
    try:
        schema.model_validate(record)
    except ValidationError as e:
        err = e.errors(include_url=False)[0]
    else:
        return None
    if not isinstance(record, dict):
        return f"not a JSON object: {str(record)[:60]!r} (expected a {schema.what} record)"
    rid = record.get("id")
    who = f"record {rid!r}" if isinstance(rid, str) and rid else "record"
    loc, kind = tuple(err["loc"]), err["type"]
    field = _field(loc)
    if kind == "missing":
        return f"{who} lacks field {field!r} (expected {_expected(schema, loc)})"
    if kind == "extra_forbidden":
        allowed = ", ".join(schema.model_fields)
        return f"{who} has unknown field {field!r} (a {schema.what} record has: {allowed})"
    value = repr(err.get("input"))
    value = value if len(value) <= 60 else value[:57] + "..."
    detail = "" if kind.endswith("_type") or kind == "literal_error" else f" ({err['msg'][0].lower()}{err['msg'][1:]})"
    return f"{who} field {field!r} = {value}: expected {_expected(schema, loc)}{detail}"


def check(record: Any, schema: type[Record], where: str) -> dict:
    """``record`` when it is a valid ``schema`` record, else a one-line DataError starting with ``where``."""
    why = problem(record, schema)
    if why is not None:
        raise DataError(f"{where}: {why}")
    return record


def read_records(path: str | Path, schema: type[Record], *, nonempty: bool = False) -> list[dict]:
    """The records of a JSON Lines file, each checked against ``schema`` (a DataError naming the file, the line
    and the field at the first bad one; ``nonempty``: no records is a DataError too).  The records are returned
    as read: dicts, not models."""
    out = [check(r, schema, f"{path}:{i}") for i, r in iter_jsonl_lines(path)]
    if nonempty and not out:
        raise DataError(f"{path}: empty input (no records)")
    return out


def read_questions(path: str | Path, *, nonempty: bool = False) -> list[dict]:
    return read_records(path, Question, nonempty=nonempty)


def read_samples(path: str | Path, *, judged: bool = False, nonempty: bool = False) -> list[dict]:
    """Sample records (``judged``: with the judge's verdicts)."""
    return read_records(path, JudgedSample if judged else Sample, nonempty=nonempty)


def read_predictions(path: str | Path, *, nonempty: bool = False) -> list[dict]:
    return read_records(path, Prediction, nonempty=nonempty)


SCHEMAS = {
    s.what: s for s in (Question, Sample, JudgedSample, Prediction, Instruction, Preference, PreferencePair)
}  # by the name an error gives them

__all__ = [
    "Question",
    "Sample",
    "JudgedSample",
    "Prediction",
    "Instruction",
    "Preference",
    "PreferencePair",
    "SCHEMAS",
    "check",
    "problem",
    "read_records",
    "read_questions",
    "read_samples",
    "read_predictions",
]

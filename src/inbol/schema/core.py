"""The core of the params schema: declared constraints (each with its one-line message), the strict
:class:`Section` base, the shared :class:`Endpoint` schema, the ``gpus`` section, the one-line error formatting,
and :func:`load_sections`, which reads and validates only the sections a stage reads.

The whole file (every section, :class:`inbol.params.Params`) is validated by the check_params stage."""

from __future__ import annotations

import difflib
import math
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, create_model, model_validator
from pydantic_core import PydanticCustomError

from ..errors import ParamError

SCHEMA_VERSION = 1  # bump when the params.yaml contract changes shape

# --------------------------------------------------------------------------------------------
# declared constraints (each with its one-line message)
# --------------------------------------------------------------------------------------------


def _num(v: float) -> str:
    return f"{v:g}"


def _fail(message: str, field: str | None = None, value: Any = None) -> PydanticCustomError:
    """A validation error with our own message; ``field`` names a key below the failing model (for the
    model-level checks), and ``{p}`` in ``message`` becomes that model's dotted prefix."""
    ctx = {"text": message}
    if field is not None:
        ctx.update(field=field, value=value)
    return PydanticCustomError("param", "{text}", ctx)


def _range(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool, integer: bool, nullable: bool = False):
    if integer and lo is not None and hi is None:
        text = f"must be an integer >= {lo}"
    elif integer:
        text = f"must be an integer in [{lo}, {hi}]"
    elif hi is None:
        text = f"must be {'>' if lo_open else '>='} {_num(lo)}"
    elif lo is None:
        text = f"must be {'<' if hi_open else '<='} {_num(hi)}"
    else:
        text = f"must be in {'(' if lo_open else '['}{_num(lo)}, {_num(hi)}{')' if hi_open else ']'}"
    if nullable:
        text = "must be null or " + text.removeprefix("must be ")

    def check(v):
        if v is None:
            return v
        if isinstance(v, float) and math.isnan(v):
            raise _fail(text)
        if lo is not None and (v <= lo if lo_open else v < lo):
            raise _fail(text)
        if hi is not None and (v >= hi if hi_open else v > hi):
            raise _fail(text)
        return v

    return check


def Int(lo: int | None = None, hi: int | None = None):
    return Annotated[int, AfterValidator(_range(lo, hi, False, False, True))]


def Float(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False):
    return Annotated[float, AfterValidator(_range(lo, hi, lo_open, hi_open, False))]


def OptInt(lo: int | None = None, hi: int | None = None):
    """An integer in range, or null (the message says both)."""
    return Annotated[int | None, AfterValidator(_range(lo, hi, False, False, True, nullable=True))]


def OptFloat(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False):
    return Annotated[float | None, AfterValidator(_range(lo, hi, lo_open, hi_open, False, nullable=True))]


def _nonempty(v: str) -> str:
    if not v.strip():
        raise _fail("must be a non-empty string")
    return v


def _url(v: str | None) -> str | None:
    if v is not None and not re.match(r"^https?://[^\s/]+", v):
        raise _fail("must be null or an http(s):// URL")
    return v


def _env_name(v: str) -> str:
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", v):
        raise _fail("must be an environment variable name (letters, digits, _)")
    return v


def _unique(v: list) -> list:
    if len(set(map(repr, v))) != len(v):
        raise _fail("must not repeat a value")
    return v


def _opt_unique(v: list | None) -> list | None:
    return v if v is None else _unique(v)


def _nonempty_list(v: list) -> list:
    if not v:
        raise _fail("must be a non-empty list")
    return v


def _module_name(v: str) -> str:
    if not v.strip() or "." in v:
        raise _fail("must be a module name such as q_proj or lm_head (no dots)")
    return v


def _split_name(v: str) -> str:
    if not re.match(r"^[A-Za-z0-9_.-]+$", v):
        raise _fail("must be a split name (letters, digits, _ . -)")
    return v


PosInt = Int(1)
NonNegInt = Int(0)
Seed = Int(0)
Unit = Float(0.0, 1.0)
PosFloat = Float(0.0, lo_open=True)
NonNegFloat = Float(0.0)
LearningRate = Float(0.0, 1.0, lo_open=True)
Name = Annotated[str, AfterValidator(_nonempty)]
Url = Annotated[str | None, AfterValidator(_url)]
EnvName = Annotated[str, AfterValidator(_env_name)]
ModuleName = Annotated[str, AfterValidator(_module_name)]
SplitName = Annotated[str, AfterValidator(_split_name)]
Device = Literal["auto", "cpu", "cuda", "mps"]
DType = Literal["auto", "float32", "bfloat16", "float16"]
Scheduler = Literal["cosine", "linear", "constant", "constant_with_warmup"]


def UniqueList(item, *, nonempty: bool = True):
    checks = [AfterValidator(_unique)] + ([AfterValidator(_nonempty_list)] if nonempty else [])
    return Annotated[(list[item], *checks)]


class Section(BaseModel):
    """A params section: unknown keys are errors, types are strict (no "3" for 3, no 1 for true), frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    def replace(self, **changes):
        """A validated copy with ``changes`` applied (nested sections as mappings or section objects); a bad
        value is a one-line ParamError (named after the section class)."""
        data = self.model_dump()
        for k, v in changes.items():
            data[k] = v.model_dump() if isinstance(v, BaseModel) else v
        return validate(type(self), data, type(self).__name__)


# --------------------------------------------------------------------------------------------
# shared schemas
# --------------------------------------------------------------------------------------------


class Endpoint(Section):
    """An OpenAI-compatible Chat Completions endpoint (OpenAI, or a vLLM server).  The API key is read from
    the environment variable NAMED by ``api_key_env`` when a client is built, and is never stored."""

    model: Name
    base_url: Url  # null: the openai package's default (OPENAI_BASE_URL or api.openai.com)
    api_key_env: EnvName
    timeout_s: PosFloat
    max_retries: Int(0, 100)  # retries after the first attempt
    concurrency: Int(1, 1024)
    cache_dir: str | None  # on-disk cache of completed requests (by request hash); null: none


# --------------------------------------------------------------------------------------------
# gpus (every stage that loads params loads this section: the model-loading helpers check a device against it)
# --------------------------------------------------------------------------------------------


class Gpus(Section):
    """The GPU layout of one node (physical indices, as nvidia-smi numbers them): the OpenAI-compatible server's
    GPUs and those the in-process stages (training, hf generation) may load a model onto (docs/gpu.md)."""

    server: UniqueList(Int(0), nonempty=False)  # the vLLM server's GPUs (data-parallel over them); []: no server
    train: UniqueList(Int(0), nonempty=False)  # in-process stages' GPUs; []: any GPU not the server's

    @model_validator(mode="after")
    def _disjoint(self):
        shared = sorted(set(self.server) & set(self.train))
        if shared:
            raise _fail(f"must not share a GPU with {{p}}server (both name {shared[0]})", "train", self.train)
        return self


# --------------------------------------------------------------------------------------------
# one-line errors
# --------------------------------------------------------------------------------------------

_TYPE_TEXT = {
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "tuple_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
}
_TAG = re.compile(r"[\[\](),' ]|^(str|int|float|bool|list|dict|none|literal|function-after)$")


def _unwrap(tp):
    """The section class inside an annotation (Optional, Annotated, unions), or None."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        return _unwrap(typing.get_args(tp)[0])
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in typing.get_args(tp):
        found = _unwrap(arg)
        if found is not None:
            return found
    return None


def _section_at(root: type[BaseModel], loc: list) -> type[BaseModel] | None:
    tp: Any = root
    for part in loc:
        if isinstance(part, int):
            continue
        model = _unwrap(tp)
        if model is None or part not in model.model_fields:
            return None
        tp = model.model_fields[part].annotation
    return _unwrap(tp)


def _dotted(prefix: str, loc: list) -> str:
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else str(part)
    return out


def close_match(word: str, candidates) -> str | None:
    """The candidate ``word`` is most likely a misspelling of (difflib), or None."""
    found = difflib.get_close_matches(word, [str(c) for c in candidates], n=1, cutoff=0.75)
    return found[0] if found else None


def _clean_loc(err: dict) -> list:
    return [p for p in err["loc"] if isinstance(p, int) or not _TAG.search(str(p))]


def _line(err: dict, root: type[BaseModel], prefix: str, meant: str | None = None) -> str:
    """One pydantic error as ``key = value: what is allowed``; ``meant``: the missing key an unknown one is
    most likely a misspelling of."""
    loc = _clean_loc(err)
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    if "[key]" in err["loc"] and kind == "literal_error":  # a mapping with a fixed set of keys
        choices = re.findall(r"'([^']*)'", ctx.get("expected", ""))
        return f"{_dotted(prefix, loc)}: unknown key; allowed: {', '.join(sorted(choices))}"
    if kind == "param" and "field" in ctx:
        parent = _dotted(prefix, loc)
        key = f"{parent}.{ctx['field']}" if parent else ctx["field"]
        value = ctx["value"]
        text = ctx["text"].replace("{p}", f"{parent}." if parent else "")
        return f"{key} = {value!r}: {text}"
    key = _dotted(prefix, loc) or "params"
    if kind == "missing":
        return f"{key} is missing: required key"
    if kind == "extra_forbidden":
        section = _section_at(root, loc[:-1])
        fields = sorted(section.model_fields) if section is not None else []
        hint = f" (did you mean {_dotted(prefix, [*loc[:-1], meant])}?)" if meant else ""
        return f"{key} = {value!r}: unknown key{hint}; allowed: {', '.join(fields) or 'see params.yaml'}"
    if kind == "literal_error":
        choices = re.findall(r"'([^']*)'|(\d+)", ctx.get("expected", ""))
        text = "must be one of " + ", ".join(a or b for a, b in choices)
    elif kind == "param":
        text = ctx["text"]
    elif kind in _TYPE_TEXT:
        text = _TYPE_TEXT[kind]
    elif kind == "too_short":
        text = f"must have at least {ctx.get('min_length')} item(s)"
    else:
        text = err["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    return f"{key} = {value!r}: {text}"


def error_lines(exc: ValidationError, root: type[BaseModel], prefix: str = "") -> list[str]:
    """Every problem of ``exc``, one line each (``key = value: what is allowed``), in the schema's order.

    A key that is missing next to an unknown key of the same section that looks like its misspelling is one
    line: the unknown key's, with "did you mean <the missing key>?".  A value that fails every branch of a
    union is one line (the first branch's)."""
    errors = exc.errors(include_url=False)
    missing: dict[tuple, list[str]] = {}
    for err in errors:
        loc = _clean_loc(err)
        if err["type"] == "missing" and loc:
            missing.setdefault(tuple(loc[:-1]), []).append(str(loc[-1]))
    meant: dict[int, str] = {}
    paired: set[tuple] = set()
    for i, err in enumerate(errors):
        loc = _clean_loc(err)
        if err["type"] == "extra_forbidden" and loc:
            candidates = [k for k in missing.get(tuple(loc[:-1]), []) if (*loc[:-1], k) not in paired]
            found = difflib.get_close_matches(str(loc[-1]), candidates, n=1, cutoff=0.6)
            if found:
                meant[i] = found[0]
                paired.add((*loc[:-1], found[0]))
    lines, seen = [], set()
    for i, err in enumerate(errors):
        loc = tuple(_clean_loc(err))
        if err["type"] == "missing" and loc in paired:
            continue
        at = (loc, (err.get("ctx") or {}).get("field"))  # a model-level check names its field
        if at in seen:
            continue
        seen.add(at)
        line = _line(err, root, prefix, meant.get(i))
        if line not in lines:
            lines.append(line)
    return lines


def error_line(exc: ValidationError, root: type[BaseModel], prefix: str = "") -> str:
    """The first problem of ``exc`` (:func:`error_lines`)."""
    return error_lines(exc, root, prefix)[0]


def validate(cls: type[Section], data: Any, prefix: str = ""):
    """``cls`` from ``data``; a ParamError naming every problem, one line each."""
    if not isinstance(data, dict):
        raise ParamError(f"{prefix or 'params'} = {data!r}: must be a mapping")
    try:
        return cls.model_validate(data)
    except ValidationError as e:
        raise ParamError("\n".join(error_lines(e, cls, prefix))) from None


def read_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ParamError(f"{path}: file not found (run from the repository root)")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ParamError(f"{path}: not valid YAML{_yaml_where(e)}") from None
    if not isinstance(data, dict):
        raise ParamError(f"{path}: must be a mapping of sections, got {type(data).__name__}")
    return data


def _yaml_where(e: yaml.YAMLError) -> str:
    """`` at line L, column C: what`` of a YAML error (1-based, as editors count), on one line."""
    mark, context_mark = getattr(e, "problem_mark", None), getattr(e, "context_mark", None)
    problem, context = getattr(e, "problem", None), getattr(e, "context", None)
    if mark is None:
        mark, problem, context = context_mark, context, None
    what = " ".join(str(problem or str(e).splitlines()[0]).split())
    if context:
        started = f" at line {context_mark.line + 1}, column {context_mark.column + 1}" if context_mark else ""
        what += f" ({' '.join(context.split())}{started})"
    return (f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "") + f": {what}"


_LAYOUT: list = []  # the gpus section of the params file loaded last (what the model-loading helpers check)


# --------------------------------------------------------------------------------------------
# loading: the sections a stage reads
# --------------------------------------------------------------------------------------------

TOP_LEVEL = {  # the keys of params.yaml that are not sections (their types; the comments are in inbol.params.Params)
    "delta_k": Unit,
    "delta_uk": Unit,
    "seeds": UniqueList(Seed),
}


def check_thresholds(p):
    """``p`` when its ``delta_uk < delta_k`` (the one rule across top-level keys)."""
    if not p.delta_uk < p.delta_k:
        raise _fail(f"must be < delta_k ({p.delta_k:g})", "delta_uk", p.delta_uk)
    return p


class _Some(Section):
    """Some sections of the params file (the others are not read, so not checked here)."""

    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)

    @model_validator(mode="after")
    def _thresholds(self):
        if {"delta_k", "delta_uk"} <= set(type(self).model_fields):
            check_thresholds(self)
        return self


def load_sections(*keys: str, path: str | Path = "params.yaml", **sections: type[Section]):
    """The top-level ``keys`` (of :data:`TOP_LEVEL`) and the ``sections`` (name=schema) of the params file, and
    always its ``gpus`` section, validated as :func:`inbol.params.load_params` validates them (the same one-line
    errors), as one object with an attribute each.  The other sections are neither imported nor checked here (the
    check_params stage, upstream of every stage, validates the whole file), so a stage's code depends only on the
    schemas of what it reads.  The ``gpus`` layout becomes the one :func:`gpu_layout` returns."""
    unknown = [k for k in keys if k not in TOP_LEVEL]
    if unknown:
        raise ValueError(f"load_sections: {unknown[0]} is not a top-level key; allowed: {', '.join(TOP_LEVEL)}")
    fields = {k: (TOP_LEVEL[k], ...) for k in keys}
    fields |= {name: (cls, ...) for name, cls in {**sections, "gpus": Gpus}.items()}
    p = validate(create_model("Params", __base__=_Some, **fields), read_yaml(path))
    _LAYOUT[:] = [p.gpus]
    return p


def gpu_layout():
    """The :class:`Gpus` layout of the params file a stage loaded (None before any was loaded)."""
    return _LAYOUT[0] if _LAYOUT else None

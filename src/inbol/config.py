"""Typed, validated parameter sections.

Every stage reads ``params.yaml`` through :func:`load_section`, which turns a section into a frozen
dataclass and validates it once, at the edge, before any work is done.  A bad value raises
:class:`ParamError` whose message is one line naming the key, the value and what is allowed; stage
scripts print that line and exit non-zero without touching their outputs.
"""
from __future__ import annotations

import dataclasses
import sys
import types
import typing
from pathlib import Path
from typing import Any, Iterable, TypeVar

import yaml

T = TypeVar("T")


class ParamError(ValueError):
    """A parameter has a value outside what is allowed (one-line message)."""


class DataError(ValueError):
    """Input data is malformed or incomplete (one-line message)."""


def load_params(path: str | Path = "params.yaml") -> dict:
    path = Path(path)
    if not path.exists():
        raise ParamError(f"{path}: file not found (run from the repository root)")
    with open(path) as fh:
        data = yaml.safe_load(fh) or {}
    if not isinstance(data, dict):
        raise ParamError(f"{path}: must be a mapping of sections, got {type(data).__name__}")
    return data


# --------------------------------------------------------------------------------------------
# checks used by the config classes' validate() methods
# --------------------------------------------------------------------------------------------

def check(cond: bool, key: str, value: Any, allowed: str) -> None:
    if not cond:
        raise ParamError(f"{key} = {value!r}: {allowed}")


def check_range(key: str, value: float, lo: float | None = None, hi: float | None = None,
                lo_open: bool = False, hi_open: bool = False) -> None:
    ok = True
    if lo is not None:
        ok &= value > lo if lo_open else value >= lo
    if hi is not None:
        ok &= value < hi if hi_open else value <= hi
    if not ok:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        lo_s = "-inf" if lo is None else f"{lo:g}"
        hi_s = "inf" if hi is None else f"{hi:g}"
        raise ParamError(f"{key} = {value!r}: must be in {left}{lo_s}, {hi_s}{right}")


def check_choice(key: str, value: Any, allowed: Iterable[Any]) -> None:
    allowed = list(allowed)
    if value not in allowed:
        raise ParamError(f"{key} = {value!r}: must be one of {', '.join(map(str, allowed))}")


def check_subset(key: str, values: Iterable[Any], allowed: Iterable[Any]) -> None:
    allowed = list(allowed)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ParamError(f"{key} = {list(values)!r}: unknown {bad[0]!r}; allowed: {', '.join(map(str, allowed))}")


# --------------------------------------------------------------------------------------------
# dict -> dataclass with type coercion
# --------------------------------------------------------------------------------------------

def _coerce(key: str, value: Any, tp: Any) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(key, value, a)
            except ParamError as e:
                errors.append(e)
        raise errors[0]
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ParamError(f"{key} = {value!r}: must be a mapping")
        return from_dict(tp, value, key)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ParamError(f"{key} = {value!r}: must be a list")
        inner = args[0] if args else Any
        items = [_coerce(f"{key}[{i}]", v, inner) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ParamError(f"{key} = {value!r}: must be a mapping")
        vt = args[1] if len(args) == 2 else Any
        return {k: _coerce(f"{key}.{k}", v, vt) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise ParamError(f"{key} = {value!r}: must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ParamError(f"{key} = {value!r}: must be an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ParamError(f"{key} = {value!r}: must be a number")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ParamError(f"{key} = {value!r}: must be a string")
        return value
    return value


def from_dict(cls: type[T], data: dict | None, prefix: str) -> T:
    """Build dataclass ``cls`` from ``data``; unknown keys and wrong types are ParamErrors."""
    data = dict(data or {})
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ParamError(f"{prefix}.{unknown[0]} = {data[unknown[0]]!r}: unknown key; allowed: {', '.join(sorted(names))}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name in data:
            kwargs[f.name] = _coerce(f"{prefix}.{f.name}", data[f.name], hints[f.name])
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ParamError(f"{prefix}.{f.name} is missing: required key")
    obj = cls(**kwargs)
    validate = getattr(obj, "validate", None)
    if validate is not None:
        validate(prefix)
    return obj


def load_section(cls: type[T], key: str, params: dict | None = None, path: str | Path = "params.yaml") -> T:
    """Read section ``key`` (dotted for nested sections, e.g. ``unanswerable.filter``) of params.yaml
    (or of ``params``) into ``cls`` and validate it."""
    node = load_params(path) if params is None else params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ParamError(f"{key}: section missing from {path}")
        node = node[part]
    return from_dict(cls, node, key)


EXIT_BAD_INPUT = 2     # a ParamError / DataError: fix params.yaml or the inputs
EXIT_LLM_FAILED = 3    # an LLM endpoint failed for good (after its retries): try again later


def run_stage(main) -> None:
    """Run a stage's main(); a ParamError/DataError becomes one line on stderr and exit code 2, an LLM
    endpoint that still fails after its retries (``inbol.llm.LLMError``) one line and exit code 3."""
    try:
        main()
    except (ParamError, DataError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_BAD_INPUT)
    except RuntimeError as e:
        from .llm.client import LLMError   # lazy: inbol.llm imports this module

        if not isinstance(e, LLMError):
            raise
        print(f"error: {e}", file=sys.stderr)
        sys.exit(EXIT_LLM_FAILED)

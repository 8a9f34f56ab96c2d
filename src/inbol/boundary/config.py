"""Typed parameters of the data construction (stage ``construct``).

The sections ``idk_it``, ``preference`` and ``sft`` of params.yaml are shared with the training stages
(``idk_it.lr`` and the like belong to them), so the construction reads only the keys it owns from each
section: :func:`from_dict_subset` builds the dataclass from that subset and ignores the rest; the
construct stage declares exactly those keys in dvc.yaml, so a training-only change never re-runs it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import TypeVar

from ..config import ParamError, check, check_range, from_dict, load_params

T = TypeVar("T")


def _check_size(key: str, value: int) -> None:
    check(value >= 1, key, value, "must be an integer >= 1")


def _check_seed(key: str, value: int) -> None:
    check(value >= 0, key, value, "must be an integer >= 0")


@dataclass(frozen=True)
class IDKITDataConfig:
    """``idk_it.{size, known_ratio, seed}``: the IDK instruction set (paper: 11k, about 25% IDK)."""
    size: int = 2000            # instructions written (at most; see inbol.boundary.select)
    known_ratio: float = 0.75   # share of Known (answer) instructions; the rest are Unknown (refusals)
    seed: int = 0

    def validate(self, prefix: str = "idk_it") -> None:
        _check_size(f"{prefix}.size", self.size)
        check_range(f"{prefix}.known_ratio", self.known_ratio, 0.0, 1.0, lo_open=True, hi_open=True)
        _check_seed(f"{prefix}.seed", self.seed)


@dataclass(frozen=True)
class PreferenceDataConfig:
    """``preference.{size, ratio, seed}``: the CA-DPO questions (each with pairs p1, p2) and the plain DPO
    variants (1)(2)(3) built from the same questions.  ``ratio`` is Unknown:Mixed:Known over questions
    (paper: about 1:1:2)."""
    size: int = 2000
    ratio: tuple[float, ...] = (1.0, 1.0, 2.0)
    seed: int = 0

    def validate(self, prefix: str = "preference") -> None:
        _check_size(f"{prefix}.size", self.size)
        ok = len(self.ratio) == 3 and all(math.isfinite(r) and r > 0 for r in self.ratio)
        check(ok, f"{prefix}.ratio", list(self.ratio), "must be 3 positive numbers Unknown:Mixed:Known, e.g. [1, 1, 2]")
        _check_seed(f"{prefix}.seed", self.seed)


@dataclass(frozen=True)
class SFTDataConfig:
    """``sft.{size, seed}``: the SFT baseline (ground truth for answerable questions, a refusal for
    unanswerable ones; paper: about as many as the IDK instructions)."""
    size: int = 2000
    seed: int = 0

    def validate(self, prefix: str = "sft") -> None:
        _check_size(f"{prefix}.size", self.size)
        _check_seed(f"{prefix}.seed", self.seed)


def from_dict_subset(cls: type[T], section: dict | None, prefix: str) -> T:
    """Build and validate ``cls`` from only the keys of ``section`` that are fields of ``cls`` (other keys,
    owned by other stages, are ignored; missing ones take their defaults)."""
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise ParamError(f"{prefix} = {section!r}: must be a mapping")
    names = {f.name for f in dataclasses.fields(cls)}
    return from_dict(cls, {k: v for k, v in section.items() if k in names}, prefix)


def load_subset(cls: type[T], key: str, params: dict | None = None, path: str = "params.yaml") -> T:
    """Like :func:`inbol.config.load_section`, through :func:`from_dict_subset`."""
    node = load_params(path) if params is None else params
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ParamError(f"{key}: section missing from {path}")
        node = node[part]
    return from_dict_subset(cls, node, key)

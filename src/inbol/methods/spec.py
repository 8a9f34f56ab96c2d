"""The spec of one method, and how one is read (:func:`load`).

A method module ``inbol/methods/<name>.py`` defines ``SPEC = MethodSpec(...)`` with every field given (none
has a default): a spec missing a field, or with one the schema does not know, fails at import with one line."""

from __future__ import annotations

import importlib
import pkgutil
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator, model_validator

from ..errors import ParamError

KINDS = ("sft", "preference", "rl", "prompt", "inference")
TABLES = ("table1", "table2", "table3", "table4", "table5", "figure4")
CA_DPO_LOSS = "ca_dpo"
# the loss types TRL's DPOConfig takes (trl 1.16, inbol.training.trl_compat.TESTED); tests check the list
TRL_DPO_LOSSES = (
    "sigmoid",
    "hinge",
    "ipo",
    "exo_pair",
    "nca_pair",
    "robust",
    "bco_pair",
    "sppo_hard",
    "aot",
    "aot_unpaired",
    "apo_zero",
    "apo_down",
    "discopop",
    "sft",
    "sigmoid_norm",
)
NAME = re.compile(r"^[a-z][a-z0-9_]*$")
FIELDS_OF_KIND = {  # kind: (start, needs a training set, needs a loss)
    "sft": (("base",), True, False),
    "preference": (("idk_it",), True, True),
    "rl": (("base", "idk_it"), True, False),
    "prompt": ((None,), False, False),
    "inference": ((None,), False, False),
}


class MethodSpec(BaseModel):
    """One evaluated method.  Every field is required."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str  # the model name everywhere (params models.*, models/<name>/s<seed>, metrics/eval/<name>-s<seed>)
    label: str  # display name in tables and figures ("CA-DPO")
    kind: Literal["sft", "preference", "rl", "prompt", "inference"]
    start: Literal["base", "idk_it"] | None  # the model its training starts from; None: not trained
    data: str | None  # the constructed training set it reads: data/constructed/s<seed>/<data>.jsonl
    loss: str | None  # preference: "ca_dpo" (equation 6) or a TRL DPOConfig loss_type ("sigmoid", "ipo", ...)
    paper_table1: str | None  # its row in the paper's Tables 1-2 ("+CA-DPO"); None: "-" in the paper columns
    paper_table3: str | None  # its column in the paper's Table 3 ("CA-DPO")
    paper_table4: str | None  # its row in the paper's Table 4, "<method> (<data>)" ("CA-DPO (3)")
    tables: tuple[Literal["table1", "table2", "table3", "table4", "table5", "figure4"], ...]  # where it appears
    order: int  # display order within a table (ascending)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.match(v):
            raise ValueError(f"must be lower-case letters, digits and _ (a Python module name), got {v!r}")
        return v

    @model_validator(mode="after")
    def _kind_fields(self) -> MethodSpec:
        if self.kind in FIELDS_OF_KIND:
            starts, needs_data, needs_loss = FIELDS_OF_KIND[self.kind]
            if self.start not in starts:
                raise ValueError(f"kind {self.kind}: start must be {' or '.join(map(str, starts))}, got {self.start}")
            if (self.data is not None) != needs_data:
                raise ValueError(f"kind {self.kind}: data must be {'a set name' if needs_data else 'None'}")
            if (self.loss is not None) != needs_loss:
                raise ValueError(f"kind {self.kind}: loss must be {'given' if needs_loss else 'None'}")
        if self.kind == "preference" and self.loss not in (CA_DPO_LOSS, *TRL_DPO_LOSSES):
            raise ValueError(f"loss {self.loss!r}: allowed: {', '.join((CA_DPO_LOSS, *TRL_DPO_LOSSES))}")
        if self.paper_table4 is not None and len(self.paper_table4.split(" ")) != 2:
            raise ValueError(f"paper_table4 {self.paper_table4!r}: must be '<method> (<data>)'")
        return self

    @property
    def trained(self) -> bool:
        return self.start is not None


@dataclass(frozen=True)
class InferenceRule:
    """How a method of kind ``inference`` answers (a reference row; no model runs): per question the original
    model's greedy answer where ``answers(conf, t)``, else the refusal, ``conf`` being the original's K-sample
    confidence; ``score(conf)`` is the row's abstention score (its ``p_refusal``, for AURC and the awareness
    AUROC); ``threshold``: ``"validation"`` (``t`` chosen on the validation sets, inbol.evaluation.references)
    or None (the rule has no ``t``).  A module of kind ``inference`` defines ``RULE = InferenceRule(...)``."""

    answers: Callable[[float, float | None], bool]
    score: Callable[[float], float]
    threshold: Literal["validation"] | None


def spec_error(where: str, exc: ValidationError) -> ParamError:
    """One line naming the first wrong field of a spec and what is allowed."""
    e = exc.errors()[0]
    field = ".".join(str(x) for x in e["loc"]) or "spec"
    allowed = ", ".join(MethodSpec.model_fields)
    if e["type"] == "missing":
        return ParamError(f"{where}: field {field!r} is missing; a MethodSpec gives every field: {allowed}")
    if e["type"] == "extra_forbidden":
        return ParamError(f"{where}: unknown field {field!r}; allowed: {allowed}")
    msg = e["msg"].removeprefix("Value error, ")
    return ParamError(
        f"{where}: {field}: {msg}" if e["loc"] else f"{where}: {msg}"
    )  # a whole-spec check names its fields


def make(**fields) -> MethodSpec:
    """``MethodSpec(**fields)``, or a one-line ParamError naming the method module and the wrong field."""
    try:
        return MethodSpec(**fields)
    except ValidationError as exc:
        raise spec_error(f"method {fields.get('name', '?')!r}", exc) from None


NOT_METHODS = {"spec", "registry"}


def names() -> tuple[str, ...]:
    """The method names: the modules of this package (listed, not imported), sorted."""
    found = pkgutil.iter_modules([str(Path(__file__).parent)])
    return tuple(sorted(m.name for m in found if not m.ispkg and m.name not in NOT_METHODS))


def load(name: str, known: tuple[str, ...] | None = None) -> MethodSpec:
    """The spec of method ``name`` (module ``inbol.methods.<name>``); a one-line ParamError when there is none
    (``known``: the names to list as allowed, else the registry's)."""
    if not isinstance(name, str) or not NAME.match(name) or name in NOT_METHODS:
        module = None
    else:
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.{name}":
                raise
            module = None
    spec = getattr(module, "SPEC", None)
    if module is None or not isinstance(spec, MethodSpec):
        known = names() if known is None else known
        raise ParamError(
            f"method {name!r}: not in the method registry (src/inbol/methods/<name>.py); allowed: {', '.join(known)}"
        )
    if spec.name != name:
        raise ParamError(f"src/inbol/methods/{name}.py: SPEC.name is {spec.name!r}; it must be the module's name")
    if spec.kind == "inference" and not isinstance(getattr(module, "RULE", None), InferenceRule):
        raise ParamError(f"src/inbol/methods/{name}.py: a method of kind inference defines RULE = InferenceRule(...)")
    return spec


def rule(name: str) -> InferenceRule:
    """The :class:`InferenceRule` of method ``name`` (a one-line ParamError unless it is of kind inference)."""
    spec = load(name)
    if spec.kind != "inference":
        raise ParamError(f"method {name!r} is of kind {spec.kind}; only a method of kind inference has a rule")
    return importlib.import_module(f"{__package__}.{name}").RULE


__all__ = [
    "KINDS",
    "TABLES",
    "CA_DPO_LOSS",
    "TRL_DPO_LOSSES",
    "MethodSpec",
    "InferenceRule",
    "make",
    "names",
    "load",
    "rule",
    "spec_error",
]

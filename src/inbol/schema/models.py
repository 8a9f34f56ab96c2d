"""The ``models`` section: the evaluated models, by name; each one a method of the registry
(``src/inbol/methods/<name>.py``), in the list of what it starts from."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, model_validator

from ..methods.spec import load, names
from .core import Section, UniqueList, _fail

# each list of this section: the start its methods must have (their spec's ``start``); ``rl`` takes the RL methods
# (kind rl), whichever model they start from, and only those; ``references`` the methods of kind inference
STARTS = {"baselines": None, "from_base": "base", "from_idk_it": "idk_it", "references": None}
INFERENCE = "inference"  # the kind of the methods of models.references (and of no other list)


def _method(key: str):
    def check(v: str) -> str:
        known = names()
        if v not in known:
            raise _fail(f"not in the method registry (src/inbol/methods/<name>.py); allowed: {', '.join(known)}")
        spec = load(v, known)  # a broken spec: its own one-line ParamError (the field, what is allowed)
        if (spec.kind == "rl") != (key == "rl"):
            where = "models.rl" if spec.kind == "rl" else "the models list of its start"
            raise _fail(f"a {spec.kind} method (src/inbol/methods/{v}.py): list it in {where}")
        if key == "rl":
            return v
        if (spec.kind == INFERENCE) != (key == "references"):
            fits = ["references"] if spec.kind == INFERENCE else [k for k, s in STARTS.items() if s == spec.start]
            raise _fail(f"is of kind {spec.kind} (src/inbol/methods/{v}.py): list it in models.{fits[0]}")
        if spec.start != STARTS[key]:
            fits = [k for k, s in STARTS.items() if s == spec.start and k != "references"]
            where = f"models.{fits[0]}" if fits else f"a list of methods that start from {spec.start}"
            raise _fail(f"starts from {spec.start} (src/inbol/methods/{v}.py): list it in {where}")
        return v

    return Annotated[str, AfterValidator(check)]


class Models(Section):
    """The evaluated models, by name (what the evaluate and training stages and the report iterate over)."""

    baselines: UniqueList(_method("baselines"))  # the original model, not trained (evaluate_baseline@<name>)
    from_base: UniqueList(_method("from_base"))  # trained from the original model (train_sft@<name>-<seed>)
    from_idk_it: UniqueList(_method("from_idk_it"), nonempty=False)  # from IDK-IT (train_preference@<name>-<seed>)
    rl: UniqueList(_method("rl"), nonempty=False)  # RL on the S_trust reward (train_rl@<name>-<seed>)
    # reference rows of kind inference, rules on the original's answers (evaluate_inference@<name>)
    references: UniqueList(_method("references"), nonempty=False)

    @model_validator(mode="after")
    def _idk_it_first(self):
        if self.from_idk_it and "idk_it" not in self.from_base:
            raise _fail("needs idk_it in {p}from_base (the model these start from)", "from_idk_it", self.from_idk_it)
        if any(load(n).start == "idk_it" for n in self.rl) and "idk_it" not in self.from_base:
            raise _fail("needs idk_it in {p}from_base (the model its methods start from)", "rl", self.rl)
        return self

    @property
    def trained(self) -> list[str]:
        """Every trained model (once per seed)."""
        return [*self.from_base, *self.from_idk_it, *self.rl]

    def all(self) -> list[str]:
        """Every model that answers (the evaluate stages)."""
        return [*self.baselines, *self.trained]

    def reported(self) -> list[str]:
        """Every row of the report: the models that answer and the reference rows."""
        return [*self.baselines, *self.references, *self.trained]

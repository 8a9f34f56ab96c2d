"""The ``models`` section: the evaluated models, by name."""

from __future__ import annotations

from typing import Literal

from .core import Section, UniqueList


class Models(Section):
    """The evaluated models, by name (what evaluate@<name> and the report iterate over)."""

    baselines: UniqueList(Literal["base", "refusal_prompt"])  # the original model, no training
    trained: UniqueList(Literal["sft", "idk_it", "ca_dpo", "dpo_1", "dpo_2", "dpo_3"])  # once per seed

    def all(self) -> list[str]:
        return [*self.baselines, *self.trained]

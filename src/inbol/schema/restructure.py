"""The ``restructure`` section: the kept responses and refusals of the restructured pool."""

from __future__ import annotations

from pydantic import model_validator

from ..refusals import REFUSAL_TEMPLATES
from .core import OptInt, Section, Seed, _fail


class Restructure(Section):
    seed: Seed  # the choice of the kept correct/incorrect responses and of the refusal
    refusal_templates: OptInt(1)  # refusals drawn from the first N templates (null: all of them)

    @model_validator(mode="after")
    def _templates(self):
        n = self.refusal_templates
        if n is not None and n > len(REFUSAL_TEMPLATES):
            raise _fail(f"must be null (all) or an integer in [1, {len(REFUSAL_TEMPLATES)}]", "refusal_templates", n)
        return self

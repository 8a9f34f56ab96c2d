"""The ``unanswerable`` section: generating, filtering and sampling the unanswerable sets."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator

from .core import Float, Name, NonNegInt, PosInt, Section, Seed, UniqueList, Unit, _fail

# unanswerable questions
# --------------------------------------------------------------------------------------------


def _weights(v: dict[str, float]) -> dict[str, float]:
    if any(x < 0 for x in v.values()) or sum(v.values()) <= 0:
        raise _fail("must be weights >= 0 with at least one positive")
    return v


class UnanswerableGenerate(Section):
    seed: Seed
    source: Name  # world split whose images are used (records file <source>.jsonl)
    n_images: NonNegInt  # images drawn from the source split; 0 = all of them
    per_image: PosInt  # questions per image
    mix: Annotated[dict[Literal["swap", "generate"], float], AfterValidator(_weights)]
    categories: Annotated[dict[Literal["absent", "false_premise", "not_available"], float], AfterValidator(_weights)]
    swap_tries: PosInt  # donors tried per swapped question before giving up
    backend: Literal["template", "openai"]
    model: Name  # openai backend (the `llm` endpoint with this model)
    temperature: Float(0.0, 2.0)
    max_tokens: PosInt
    max_unparsed_frac: Unit


class UnanswerableFilter(Section):
    backend: Literal["oracle", "openai"]
    strict: bool  # the in-domain test-set rule (criterion 1 or 3, nothing partly answerable)
    drop_base_refused: bool  # drop what the original model already refuses (paper)
    model: Name
    max_tokens: PosInt
    max_unparsed_frac: Unit
    batch_size: PosInt
    max_new_tokens: PosInt


class UnanswerableSets(Section):
    seed: Seed
    uavqa: NonNegInt  # in-domain UaVQA on test images (paper: 100)
    uavqa_val: NonNegInt  # the validation UaVQA, on validation images
    beyond: NonNegInt  # BeyondVisQA-like (out of domain)
    vizwiz: NonNegInt  # VizWiz(ua)-like
    vizwiz_modes: UniqueList(Literal["blank", "blur", "dark", "occluder"])
    vizwiz_emblem_share: Unit


class Unanswerable(Section):
    generate: UnanswerableGenerate
    filter: UnanswerableFilter
    sets: UnanswerableSets

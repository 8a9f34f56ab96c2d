"""The params.yaml contract: one strict, typed schema per section (pydantic v2), validated once at the edge.

:func:`load_params` reads params.yaml into :class:`Params` and validates the WHOLE file before a stage does
any work: an unknown or misspelt key anywhere, a missing key, a wrong type (a string for a number) or a
value outside its range is a :class:`~inbol.errors.ParamError` naming every problem of the file at once,
one line each: the key, the value and what is allowed, e.g.::

    sampling.k = 0: must be an integer >= 1
    idk_it.known_raito = 0.5: unknown key (did you mean idk_it.known_ratio?); allowed: known_ratio, size, ...

(a key renamed by mistake is one line, not a "missing" and an "unknown" one); a YAML syntax error names
the file, the line and the column.

params.yaml is the one place a value is set: the section schemas carry no defaults (every key is
required), except for the per-source entries of ``world.datasets``, whose optional fields are defined
here only.  Sections are frozen; :meth:`Section.replace` returns a validated copy with some fields
changed (what a sweep cell or a test needs).

The schemas live in :mod:`inbol.schema`, one module per section (or per group of sections a stage reads
together) on a small core; this module assembles them into the whole file and re-exports every name.  A stage
imports and loads only the sections it reads (:func:`inbol.schema.core.load_sections`), so editing one section's
schema re-runs only the stages that read it.

This module imports nothing heavy (no torch), so checking params is fast.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import model_validator

from .schema.awareness import Awareness
from .schema.base_model import Arch, BaseEval, BaseModelParams, Pretrain, TextArch, VisionArch
from .schema.calibration import Calibration
from .schema.core import (  # noqa: F401  (re-exported)
    _LAYOUT,
    SCHEMA_VERSION,
    Endpoint,
    Gpus,
    Section,
    Seed,
    UniqueList,
    Unit,
    _unwrap,
    check_thresholds,
    close_match,
    error_line,
    error_lines,
    gpu_layout,
    load_sections,
    read_yaml,
    validate,
)
from .schema.data import IDKITData, PreferenceData, SFTData
from .schema.diagnose import Diagnose
from .schema.dpo import CADPO, DPO
from .schema.evaluate import Evaluate
from .schema.grpo import GRPO
from .schema.judge import Judge
from .schema.models import Models
from .schema.probe import Probe
from .schema.prompt import Prompt
from .schema.restructure import Restructure
from .schema.sampling import Sampling
from .schema.selective import Selective
from .schema.stats import Stats
from .schema.sweep import Sweep, SweepBudget, SweepThresholds
from .schema.testsets import Testsets
from .schema.training import Lora, Train
from .schema.unanswerable import Unanswerable, UnanswerableFilter, UnanswerableGenerate, UnanswerableSets
from .schema.world import (
    FAMILIES,
    LOADER_OPTIONS,
    UNANSWERABLE_SETS,
    WORLD_SPLITS,
    DatasetsConfig,
    DatasetSource,
    Difficulty,
    World,
    WorldSizes,
    option_problem,
)

# --------------------------------------------------------------------------------------------
# the whole file
# --------------------------------------------------------------------------------------------


class Params(Section):
    delta_k: Unit  # Known: conf >= delta_k (paper: 0.8)
    delta_uk: Unit  # Unknown: conf <= delta_uk (paper: 0.2)
    seeds: UniqueList(Seed)  # every trained method trains (and selects its data) once per seed
    world: World
    base_model: BaseModelParams
    prompt: Prompt
    sampling: Sampling
    calibration: Calibration
    judge: Judge
    restructure: Restructure
    idk_it: IDKITData
    preference: PreferenceData
    sft: SFTData
    lora: Lora
    train: Train
    dpo: DPO
    grpo: GRPO
    ca_dpo: CADPO
    testsets: Testsets
    evaluate: Evaluate
    gpus: Gpus
    stats: Stats
    selective: Selective
    models: Models
    llm: Endpoint
    unanswerable: Unanswerable
    sweep: Sweep
    probe: Probe
    awareness: Awareness
    diagnose: Diagnose

    @model_validator(mode="after")
    def _thresholds(self):
        return check_thresholds(self)


def load_params(path: str | Path = "params.yaml") -> Params:
    """The whole params file, validated (a ParamError naming every problem anywhere, one line each).  Its ``gpus``
    layout becomes the one :func:`gpu_layout` returns, which the model-loading helpers check a device against."""
    p = validate(Params, read_yaml(path))
    _LAYOUT[:] = [p.gpus]
    return p


__all__ = [
    "SCHEMA_VERSION",
    "WORLD_SPLITS",
    "UNANSWERABLE_SETS",
    "LOADER_OPTIONS",
    "option_problem",
    "Params",
    "Section",
    "Endpoint",
    "load_params",
    "load_sections",
    "gpu_layout",
    "Gpus",
    "validate",
    "read_yaml",
    "error_line",
    "error_lines",
    "close_match",
    "FAMILIES",
    "World",
    "WorldSizes",
    "Difficulty",
    "DatasetSource",
    "DatasetsConfig",
    "BaseModelParams",
    "Arch",
    "VisionArch",
    "TextArch",
    "Pretrain",
    "BaseEval",
    "Prompt",
    "Sampling",
    "Judge",
    "Restructure",
    "IDKITData",
    "PreferenceData",
    "SFTData",
    "Lora",
    "Train",
    "DPO",
    "GRPO",
    "CADPO",
    "Testsets",
    "Evaluate",
    "Models",
    "UnanswerableGenerate",
    "UnanswerableFilter",
    "UnanswerableSets",
    "Unanswerable",
    "SweepThresholds",
    "SweepBudget",
    "Sweep",
    "Probe",
    "Diagnose",
]

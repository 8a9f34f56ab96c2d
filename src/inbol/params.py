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

This module imports nothing heavy (no torch), so checking params is fast.
"""

from __future__ import annotations

import difflib
import math
import re
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from .errors import ParamError
from .refusals import REFUSAL_TEMPLATES

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
# world
# --------------------------------------------------------------------------------------------

FAMILIES = ("perception", "emblem", "choice")
# world.source datasets: the splits of data/world and the unanswerable evaluation sets it writes
WORLD_SPLITS = (
    "pool",
    "test",
    "ood_phrasing",
    "ood_hard",
    "ood_choice",
    "val",  # the validation splits come last: the world drops their questions on a pool/test/OOD image
    "val_ood_phrasing",
    "val_ood_hard",
    "val_ood_choice",
)
UNANSWERABLE_SETS = ("uavqa", "beyond", "vizwiz", "vqav2_idk", "uavqa_val")
# the loader-specific options of a dataset source (world.datasets.<split>[].options): name -> allowed type or values
# (a str option must be non-empty, an int option >= 1)
LOADER_OPTIONS: dict[str, dict[str, type | tuple]] = {
    "vqav2": {"annotations": str},  # the official annotation json, joined on question_id with data_files' questions
    "vqav2_idk": {"min_idk": int, "idk_keywords": list},
    "scienceqa": {"require_image": bool, "with_hint": bool},
    "mmmu": {"multi_image": ("skip", "first")},
    "records": {"kind": ("open", "choice", "unanswerable")},
}


def option_problem(loader: str, options: dict) -> tuple[str, str] | None:
    """(option, what is wrong) for the first bad option of a ``loader``'s source, or None."""
    allowed = LOADER_OPTIONS.get(loader, {})
    for k, v in options.items():
        if k not in allowed:
            return k, f"unknown option for loader {loader}; allowed: {', '.join(sorted(allowed)) or 'none'}"
        spec = allowed[k]
        if isinstance(spec, tuple):
            if v not in spec:
                return k, f"must be one of {', '.join(spec)}"
        elif not isinstance(v, spec) or (spec is int and isinstance(v, bool)):
            return k, f"must be of type {spec.__name__}"
        elif spec is str and not v.strip():
            return k, "must be a non-empty string"
        elif spec is int and v < 1:  # every integer option is a count
            return k, "must be an integer >= 1"
    return None


Family = Literal["perception", "emblem", "choice"]
LoaderName = Literal[
    "vqav2", "vqav2_idk", "oven", "scienceqa", "aokvqa", "gqa", "mmbench", "mmmu", "beyondvisqa", "vizwiz", "records"
]


class WorldSizes(Section):
    corpus: PosInt  # perception images in the pretraining corpus (qa_per_image QAs each)
    pool: PosInt  # train pool questions (confidence estimation, data construction)
    test: PosInt  # in-domain test candidates (the balanced test sets are chosen from these)
    ood_hard: PosInt  # GQA-like
    ood_phrasing: PosInt  # AOKVQA-like
    ood_choice: PosInt  # MMBench/MMMU-like
    val: PosInt  # validation candidates (in domain, drawn like test; the validation sets are chosen from them)
    val_ood: PosInt  # each out-of-domain validation set (drawn like its test set)


class Difficulty(Section):
    noise: Unit  # max Gaussian noise std, as a fraction of 255, at difficulty 1
    clutter: Unit  # probability of small specks at difficulty 1
    occlusion: Unit  # probability that a bar hides part of one object at difficulty 1
    power: Float(0.1, 10.0)  # an image's difficulty is u ** power, u uniform in [0, 1]


class DatasetSource(Section):
    """One dataset split read through ``datasets.load_dataset(path, name, split=split, data_files=...)``."""

    loader: LoaderName
    path: Name  # hub id, a builder (json, parquet, csv) or a local folder
    split: Name = "train"
    name: str | list[str] | None = None  # dataset config; a list is read config by config and concatenated
    data_files: str | list[str] | dict[str, str | list[str]] | None = None
    revision: str | None = None
    image_root: str | None = None  # folder that image file names/paths resolve against
    image_pattern: str | None = None  # file name from row fields, e.g. "{image_id}.jpg"
    image_map: str | None = None  # a CSV/JSON file mapping image ids to paths under image_root
    limit: OptInt(1) = None  # keep this many rows (a seeded sample when the source has more)
    seed: Seed = 0
    family: Family | None = None  # override the loader's family
    options: dict[str, str | int | float | bool | list[str]] = {}  # loader-specific

    @model_validator(mode="after")
    def _options(self):
        bad = option_problem(self.loader, self.options)
        if bad is not None:
            raise _fail(bad[1], f"options.{bad[0]}", self.options.get(bad[0]))
        return self


class DatasetsConfig(Section):
    """``world.datasets``: the sources of every split and set, and the bad-image tolerance."""

    pool: list[DatasetSource]
    test: list[DatasetSource]
    ood_phrasing: list[DatasetSource] = []
    ood_hard: list[DatasetSource] = []
    ood_choice: list[DatasetSource] = []
    beyond: list[DatasetSource] = []
    vizwiz: list[DatasetSource] = []
    vqav2_idk: list[DatasetSource] = []
    uavqa: list[DatasetSource] = []
    # the validation splits (every choice is made on them): empty lists leave the validation sets empty
    val: list[DatasetSource] = []
    val_ood_phrasing: list[DatasetSource] = []
    val_ood_hard: list[DatasetSource] = []
    val_ood_choice: list[DatasetSource] = []
    uavqa_val: list[DatasetSource] = []
    max_bad_image_fraction: Unit = 0.01
    verify_images: bool = True

    @model_validator(mode="after")
    def _need(self):
        for split in ("pool", "test"):
            if not getattr(self, split):
                raise _fail("must list at least one dataset source", split, getattr(self, split))
        return self

    def sources(self) -> dict[str, list[DatasetSource]]:
        return {name: list(getattr(self, name)) for name in (*WORLD_SPLITS, *UNANSWERABLE_SETS)}


class World(Section):
    source: Literal["synthetic", "datasets"]
    seed: Seed
    image_size: Int(16, 512)
    families: UniqueList(Family)
    family_mix: list[PosFloat]
    max_objects: Int(2, 5)
    n_emblems: Int(5, 500)
    emblem_max_exposure: PosInt
    emblem_zipf: Float(0.0, 5.0)
    qa_per_image: Int(1, 20)
    corpus_choice_share: Unit
    corpus_choice_options: UniqueList(Int(2, 5))  # option counts of the corpus's choice questions
    corpus_paraphrase_share: Unit  # corpus QAs asked with the corpus-only paraphrases (the OOD set's words)
    corpus_instruction_share: Unit  # corpus QAs with an appended instruction sentence (never a refusal)
    corpus_instruction_sentences: Int(1, 4)  # an appended instruction has 1..this many sentences (drawn uniformly)
    corpus_fact_share: Unit  # corpus images with one more QA of a shape fact (roll, corners) by the shape's name
    emblem_split: Literal["shared", "disjoint"]  # disjoint: the pool and the evaluated splits show different emblems
    sizes: WorldSizes
    difficulty: Difficulty
    datasets: DatasetsConfig | None

    @model_validator(mode="after")
    def _check(self):
        if len(self.family_mix) != len(self.families):
            raise _fail(f"must be {len(self.families)} positive weights, one per family", "family_mix", self.family_mix)
        if self.source == "datasets" and self.datasets is None:
            raise _fail("must list the dataset sources when {p}source = 'datasets'", "datasets", None)
        return self


# --------------------------------------------------------------------------------------------
# the original model
# --------------------------------------------------------------------------------------------


class VisionArch(Section):
    hidden_size: PosInt
    intermediate_size: PosInt
    num_layers: PosInt
    num_heads: PosInt
    patch_size: PosInt

    @model_validator(mode="after")
    def _heads(self):
        if self.hidden_size % self.num_heads:
            raise _fail(f"must be divisible by {{p}}num_heads ({self.num_heads})", "hidden_size", self.hidden_size)
        return self


class TextArch(Section):
    hidden_size: PosInt
    intermediate_size: PosInt
    num_layers: PosInt
    num_heads: PosInt
    max_positions: PosInt

    @model_validator(mode="after")
    def _heads(self):
        if self.hidden_size % self.num_heads:
            raise _fail(f"must be divisible by {{p}}num_heads ({self.num_heads})", "hidden_size", self.hidden_size)
        return self


class Arch(Section):
    """The tiny LLaVA built when ``base_model.source`` is ``scratch``."""

    vocab_size: Int(300, 200_000)
    vision_feature_layer: int
    vision: VisionArch
    text: TextArch

    @model_validator(mode="after")
    def _layer(self):
        n = self.vision.num_layers + 1
        if not -n <= self.vision_feature_layer <= -1:
            raise _fail(f"must be in [-{n}, -1]", "vision_feature_layer", self.vision_feature_layer)
        return self


class Pretrain(Section):
    steps: PosInt
    batch_size: PosInt
    lr: LearningRate
    weight_decay: Unit
    warmup_ratio: Unit
    scheduler: Literal["cosine", "linear", "constant"]
    seed: Seed  # data order (base_model.seed: the initial weights)
    log_every: PosInt
    turns_per_example: Int(1, 20)  # >1 packs an image's corpus QAs into one multi-turn example
    sampling: Literal["random", "group_by_length"]
    # >1: each random batch is sorted by length into this many micro-batches (gradient accumulation over the
    # same examples, so the same update up to rounding, with less padding: 1.3x faster steps here)
    micro_batches: Int(1, 64)

    @model_validator(mode="after")
    def _micro(self):
        if self.batch_size % self.micro_batches:
            raise _fail(f"must divide batch_size ({self.batch_size})", "micro_batches", self.micro_batches)
        if self.micro_batches > 1 and self.sampling != "random":
            raise _fail(
                "needs sampling: random (it sorts each random batch itself)", "micro_batches", self.micro_batches
            )
        return self


class BaseEval(Section):
    n_per_family: PosInt  # held-out questions per family (the first ones of the train pool)
    batch_size: PosInt
    max_new_tokens: PosInt


class BaseModelParams(Section):
    source: Name  # scratch | a hub id | a local folder saved with save_pretrained
    image_aspect_ratio: Literal["pad", "crop"]  # non-square images: pad to a square (LLaVA-1.5) | centre-crop
    seed: Seed
    device: Device
    dtype: DType
    arch: Arch
    pretrain: Pretrain
    eval: BaseEval


class Prompt(Section):
    """How a question becomes the model's prompt (the processor's chat template, for every stage)."""

    system: str | None  # a system sentence before the conversation (LLaVA-1.5's own format); null: none


# --------------------------------------------------------------------------------------------
# confidence: sampling, judging, restructuring
# --------------------------------------------------------------------------------------------


class Sampling(Section):
    backend: Literal["hf", "openai"]
    k: PosInt  # samples per question (the paper's K)
    temperature: Float(0.0, 2.0)
    top_p: Float(0.0, 1.0, lo_open=True)
    max_new_tokens: PosInt
    batch_size: PosInt  # questions per batch (each batch is one append + fsync)
    seed: Seed
    splits: UniqueList(SplitName)
    max_bad_fraction: Unit  # most questions (share) left out as bad (image, answers, duplicate id)
    device: Device
    dtype: DType
    openai: Endpoint  # backend openai: the server of the original model (vLLM)

    def fingerprint(self) -> dict:
        """The settings that decide the samples (batch_size, device, dtype, splits and the server's
        address/timeouts do not; see :mod:`inbol.sampling.run`)."""
        fp = {
            "backend": self.backend,
            "k": self.k,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_new_tokens": self.max_new_tokens,
            "seed": self.seed,
        }
        if self.backend == "openai":
            fp["model"] = self.openai.model
        return fp


class Calibration(Section):
    """The miniature stage's calibration check (validation sets): the sampling temperatures compared."""

    temperatures: UniqueList(Float(0.0, 2.0, lo_open=True))


class Judge(Section):
    backend: Literal["none", "openai"]  # none: string matching only | openai: + an LLM for semantic equivalence
    lenient: bool  # lenient string matching (inbol.judge.match)
    max_tokens: Int(1, 4096)
    endpoint: Endpoint


class Restructure(Section):
    seed: Seed  # the choice of the kept correct/incorrect responses and of the refusal
    refusal_templates: OptInt(1)  # refusals drawn from the first N templates (null: all of them)

    @model_validator(mode="after")
    def _templates(self):
        n = self.refusal_templates
        if n is not None and n > len(REFUSAL_TEMPLATES):
            raise _fail(f"must be null (all) or an integer in [1, {len(REFUSAL_TEMPLATES)}]", "refusal_templates", n)
        return self


# --------------------------------------------------------------------------------------------
# data construction
# --------------------------------------------------------------------------------------------


class IDKITData(Section):
    """``idk_it``: the IDK instruction set (paper: 11k, about 25% IDK)."""

    size: PosInt
    known_ratio: Float(0.0, 1.0, lo_open=True, hi_open=True)  # share of Known (answer) vs Unknown (refusal)
    unknown_extrinsic_share: OptFloat(
        0.0, 1.0
    )  # unanswerable share of the Unknown (refusal) instructions; null: the pool's


def _ratio(v: list[float]) -> list[float]:
    if len(v) != 3 or not all(math.isfinite(x) and x > 0 for x in v):
        raise _fail("must be 3 positive numbers Unknown:Mixed:Known, e.g. [1, 1, 2]")
    return v


class PreferenceData(Section):
    """``preference``: the CA-DPO questions (each with pairs p1, p2) and the plain DPO variants built from them."""

    size: PosInt
    ratio: Annotated[list[float], AfterValidator(_ratio)]  # Unknown:Mixed:Known over questions (paper: 1:1:2)
    unknown_extrinsic_share: OptFloat(0.0, 1.0)  # unanswerable share of the Unknown questions; null: the pool's


class SFTData(Section):
    """``sft``: the SFT baseline (ground truth for answerable questions, a refusal for unanswerable ones)."""

    size: PosInt


# --------------------------------------------------------------------------------------------
# training
# --------------------------------------------------------------------------------------------


class Lora(Section):
    r: PosInt
    alpha: PosFloat
    dropout: Float(0.0, 1.0, hi_open=True)
    target_modules: UniqueList(ModuleName)  # linear layers of the language model that get an adapter
    modules_to_save: UniqueList(ModuleName, nonempty=False)  # trained in full next to the adapter


class Train(Section):
    """Optimisation shared by IDK-IT and SFT (and by the preference stages, see ``dpo``).  ``batch_size`` is
    the effective batch: per-device batch x grad_accum x processes."""

    lr: LearningRate
    batch_size: PosInt
    epochs: PosFloat
    max_steps: OptInt(1)  # set: stop after this many optimiser steps (overrides epochs)
    grad_accum: PosInt
    warmup_ratio: Float(0.0, 1.0, hi_open=True)
    scheduler: Scheduler
    save_steps: PosInt  # checkpoint interval (resume after a kill)
    logging_steps: PosInt
    activation_checkpointing: bool
    dtype: DType  # the weights from load to save (auto: bfloat16 on a CUDA device with bf16, else float32)
    launcher: Name  # the accelerate config dvc.yaml launches every training stage with

    @model_validator(mode="after")
    def _accum(self):
        if self.batch_size % self.grad_accum:
            raise _fail(f"must divide {{p}}batch_size ({self.batch_size})", "grad_accum", self.grad_accum)
        return self

    def per_device_batch(self, num_processes: int) -> int:
        """batch_size / (grad_accum x processes); a ParamError when that is not a whole number."""
        denom = self.grad_accum * num_processes
        if self.batch_size % denom:
            raise ParamError(
                f"train.batch_size = {self.batch_size}: must be a multiple of grad_accum x processes "
                f"({self.grad_accum} x {num_processes})"
            )
        return self.batch_size // denom


class DPO(Section):
    """CA-DPO and plain DPO: ``beta``, and overrides of ``train.lr`` / ``train.epochs`` and of
    ``lora.modules_to_save`` (null: inherit; ``[]``: LoRA only, the LM head stays the IDK-IT model's)."""

    beta: PosFloat
    lr: OptFloat(0.0, 1.0, lo_open=True)
    epochs: OptFloat(0.0, lo_open=True)
    modules_to_save: Annotated[list[ModuleName] | None, AfterValidator(_opt_unique)]  # null: lora's

    def apply(self, train: Train) -> Train:
        """``train`` with this section's overrides."""
        return train.replace(**{k: getattr(self, k) for k in ("lr", "epochs") if getattr(self, k) is not None})


# --------------------------------------------------------------------------------------------
# evaluation
# --------------------------------------------------------------------------------------------


class Testsets(Section):
    n_per_family: PosInt  # in-domain test questions per family (paper: 300 each)
    n_unanswerable: NonNegInt  # UaVQA (paper: 100)
    val_per_family: PosInt  # in-domain validation questions per family (chosen like the test ones)
    val_unanswerable: NonNegInt  # UaVQA-like validation questions
    target_acc: Unit  # the original model's mean confidence per family ("about 50% accurate")
    seed: Seed


class Evaluate(Section):
    vqa_accuracy: bool  # also the official VQA accuracy where records carry the 10 answers
    batch_size: PosInt
    max_new_tokens: Int(1, 4096)
    device: Device
    dtype: DType
    top_logprobs: Int(1, 20)  # sampling.backend openai: P(refusal start) from the first token's top log-probs


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


class Stats(Section):
    """The bootstrap of every reported interval (inbol.evaluation.stats)."""

    n_boot: Int(100)  # replicates (fewer than 100 give no usable percentile interval)
    level: Float(0.0, 1.0, lo_open=True, hi_open=True)  # the intervals' confidence level
    seed: Seed


class Selective(Section):
    """Table 5 (inbol.evaluation.abstention): selective prediction and inference-time abstention."""

    costs: UniqueList(Float(0.0, lo_open=True))  # the Effective Reliability costs c (Whitehead et al.: 1, 10, 100)
    k: PosInt  # samples per question for the self-consistency agreement
    temperature: Float(0.0, 2.0, lo_open=True)


class Models(Section):
    """The evaluated models, by name (what evaluate@<name> and the report iterate over)."""

    baselines: UniqueList(Literal["base", "refusal_prompt"])  # the original model, no training
    trained: UniqueList(Literal["sft", "idk_it", "ca_dpo", "dpo_1", "dpo_2", "dpo_3"])  # once per seed

    def all(self) -> list[str]:
        return [*self.baselines, *self.trained]


# --------------------------------------------------------------------------------------------
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


# --------------------------------------------------------------------------------------------
# sweeps and the probe
# --------------------------------------------------------------------------------------------


class SweepThresholds(Section):
    delta_k: Unit
    delta_uk: Unit

    @model_validator(mode="after")
    def _order(self):
        if self.delta_k <= self.delta_uk:
            raise _fail(f"must be greater than {{p}}delta_uk ({self.delta_uk:g})", "delta_k", self.delta_k)
        return self


class SweepBudget(Section):
    """Each sweep cell's training budget (null: as the main stages)."""

    idk_it_size: OptInt(1)
    preference_size: OptInt(1)
    epochs: OptFloat(0.0, lo_open=True)
    max_steps: OptInt(1)
    lr: OptFloat(0.0, 1.0, lo_open=True)
    groups: UniqueList(Literal["in_domain", "ood", "extra"])  # test-set groups each cell is evaluated on

    def train(self, train: Train) -> Train:
        return train.replace(
            **{k: getattr(self, k) for k in ("epochs", "max_steps", "lr") if getattr(self, k) is not None}
        )

    def dpo(self, dpo: DPO) -> DPO:
        return dpo.replace(**{k: getattr(self, k) for k in ("epochs", "lr") if getattr(self, k) is not None})


def _threshold_cell(v: str) -> str:
    m = re.fullmatch(r"([01](?:\.\d+)?)-([01](?:\.\d+)?)", v)
    if not m or not 0 <= float(m.group(2)) < float(m.group(1)) <= 1:
        raise _fail('must be "delta_k-delta_uk" with 0 <= delta_uk < delta_k <= 1, e.g. "0.8-0.2"')
    return v


class Sweep(Section):
    cells: UniqueList(Annotated[str, AfterValidator(_threshold_cell)])  # Figure 10: "delta_k-delta_uk" pairs
    known_ratio: UniqueList(Float(0.0, 1.0, lo_open=True, hi_open=True))
    known_weight: UniqueList(Float(0.0, 100.0, lo_open=True))
    thresholds: SweepThresholds
    seeds: UniqueList(Seed)
    budget: SweepBudget


def _two(v: list[int]) -> list[int]:
    if len(v) != 2:
        raise _fail("must be two integers >= 1 (the hidden layers of the three-layer classifier)")
    return v


class Probe(Section):
    max_conf: Float(0.0, 1.0, hi_open=True)  # an answerable question is an (intrinsic) unknown if conf <= max_conf
    train_per_class: OptInt(1)  # null: all the smaller class has
    test_per_class: OptInt(1)
    min_per_class: PosInt  # fewer available in a class of either split is an error
    hidden_sizes: Annotated[list[PosInt], AfterValidator(_two)]  # the MLP's two hidden layers
    epochs: PosInt
    lr: Float(0.0, 10.0, lo_open=True)
    weight_decay: NonNegFloat
    logreg_l2: NonNegFloat
    control_repeats: PosInt
    batch_size: PosInt
    seed: Seed
    device: Device
    dtype: DType

    @model_validator(mode="after")
    def _caps(self):
        for key in ("train_per_class", "test_per_class"):
            v = getattr(self, key)
            if v is not None and v < self.min_per_class:
                raise _fail(f"must be >= {{p}}min_per_class ({self.min_per_class}) or null", key, v)
        return self


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

    @model_validator(mode="after")
    def _thresholds(self):
        if not self.delta_uk < self.delta_k:
            raise _fail(f"must be < delta_k ({self.delta_k:g})", "delta_uk", self.delta_uk)
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


def load_params(path: str | Path = "params.yaml") -> Params:
    """The whole params file, validated (a ParamError naming every problem anywhere, one line each).  Its ``gpus``
    layout becomes the one :func:`gpu_layout` returns, which the model-loading helpers check a device against."""
    p = validate(Params, read_yaml(path))
    _LAYOUT[:] = [p.gpus]
    return p


def gpu_layout():
    """The :class:`Gpus` layout of the params file a stage loaded (None before any was loaded)."""
    return _LAYOUT[0] if _LAYOUT else None


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
]

"""The ``world`` section: the synthetic VQA world or the real datasets it is read from."""

from __future__ import annotations

from typing import Literal

from pydantic import create_model, model_validator

from ..evalsets import families, unanswerable_files, world_files
from .core import Float, Int, Name, OptInt, PosFloat, PosInt, Section, Seed, UniqueList, Unit, _fail

# derived from the evaluation-set registry (inbol.evalsets): the in-domain question families, and for
# world.source datasets the splits of data/world (validation splits last: the world drops their questions on a
# pool/test/OOD image) and the unanswerable evaluation sets it writes
FAMILIES = families()
WORLD_SPLITS = world_files()
UNANSWERABLE_SETS = unanswerable_files()
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


Family = Literal[FAMILIES]
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


class _Datasets(Section):
    """``world.datasets``: the sources of every split and set (one key per file of
    :data:`WORLD_SPLITS` and :data:`UNANSWERABLE_SETS`; empty lists leave a set, or a validation set, empty),
    and the bad-image tolerance."""

    pool: list[DatasetSource]
    test: list[DatasetSource]
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


# one optional source list per other split and set of the registry
DatasetsConfig = create_model(
    "DatasetsConfig",
    __base__=_Datasets,
    **{n: (list[DatasetSource], []) for n in (*WORLD_SPLITS, *UNANSWERABLE_SETS) if n not in ("pool", "test")},
)


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

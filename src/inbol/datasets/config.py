"""Parameters of the real-dataset world (``world.source: datasets``, section ``world.datasets``).

Each split of ``data/world`` (pool, test, ood_phrasing, ood_hard, ood_choice) and each unanswerable
evaluation set (beyond, vizwiz, vqav2_idk, uavqa) lists the sources it is built from.  A source names a
loader (the dataset's schema, :data:`inbol.datasets.loaders.LOADERS`) and how ``datasets.load_dataset``
finds it: a hub id, or a builder (``json``, ``parquet``, ``csv``) with ``data_files``, or a local folder.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..config import check, check_choice, check_range

# split of data/world -> what it stands for in the paper
WORLD_SPLITS = ("pool", "test", "ood_phrasing", "ood_hard", "ood_choice")
# unanswerable evaluation sets written to data/world/<name>.jsonl and copied by the unanswerable_sets stage
UNANSWERABLE_SETS = ("uavqa", "beyond", "vizwiz", "vqav2_idk")


@dataclass(frozen=True)
class DatasetSource:
    """One dataset split read through ``datasets.load_dataset(path, name, split=split, data_files=...)``."""
    loader: str                              # vqav2 | vqav2_idk | oven | scienceqa | aokvqa | gqa | mmbench | mmmu | beyondvisqa | vizwiz | records
    path: str                                # hub id (e.g. HuggingFaceM4/VQAv2), a builder (json, parquet, csv) or a local folder
    split: str = "train"
    name: str | list[str] | None = None      # dataset config; a list is read config by config and concatenated (MMMU subjects)
    data_files: str | list[str] | dict[str, str | list[str]] | None = None
    revision: str | None = None
    image_root: str | None = None            # folder that image file names/paths resolve against
    image_pattern: str | None = None         # file name from row fields, e.g. "val2014/COCO_val2014_{image_id:012d}.jpg"
    limit: int | None = None                 # keep this many rows (a seeded sample when the source has more)
    seed: int = 0
    family: str | None = None                # override the loader's family (perception | emblem | choice)
    options: dict[str, str | int | float | bool | list[str]] = field(default_factory=dict)  # loader-specific

    def validate(self, prefix: str) -> None:
        from .loaders import LOADERS
        check_choice(f"{prefix}.loader", self.loader, LOADERS)
        check(bool(self.path.strip()), f"{prefix}.path", self.path, "must be a hub id, a builder name or a local folder")
        check(bool(self.split.strip()), f"{prefix}.split", self.split, "must name a split, e.g. train or validation")
        if self.limit is not None:
            check(self.limit >= 1, f"{prefix}.limit", self.limit, "must be null or an integer >= 1")
        check(self.seed >= 0, f"{prefix}.seed", self.seed, "must be an integer >= 0")
        if self.family is not None:
            check_choice(f"{prefix}.family", self.family, ("perception", "emblem", "choice"))
        LOADERS[self.loader].check_options(self.options, f"{prefix}.options")


@dataclass(frozen=True)
class DatasetsConfig:
    """``world.datasets``: the sources of every split and set, and the bad-image tolerance."""
    pool: list[DatasetSource] = field(default_factory=list)          # VQAv2 train, OVEN train, ScienceQA train
    test: list[DatasetSource] = field(default_factory=list)          # VQAv2 val, OVEN val, ScienceQA test
    ood_phrasing: list[DatasetSource] = field(default_factory=list)  # AOKVQA val
    ood_hard: list[DatasetSource] = field(default_factory=list)      # GQA test(-dev)
    ood_choice: list[DatasetSource] = field(default_factory=list)    # MMBench en-dev, MMMU val
    beyond: list[DatasetSource] = field(default_factory=list)        # BeyondVisQA (MM-SAP)
    vizwiz: list[DatasetSource] = field(default_factory=list)        # VizWiz val, unanswerable subset
    vqav2_idk: list[DatasetSource] = field(default_factory=list)     # VQAv2-IDK val, > 1 IDK annotation
    uavqa: list[DatasetSource] = field(default_factory=list)         # UaVQA (generated on test images, filtered by hand)
    max_bad_image_fraction: float = 0.01     # per source: rows with a missing/unreadable image are skipped up to this share
    verify_images: bool = True               # decode every image once (a bad file is counted, not crashed on later)

    def validate(self, prefix: str) -> None:
        check_range(f"{prefix}.max_bad_image_fraction", self.max_bad_image_fraction, 0.0, 1.0)
        for split in ("pool", "test"):
            check(len(getattr(self, split)) >= 1, f"{prefix}.{split}", getattr(self, split),
                  "must list at least one dataset source")

    def sources(self) -> dict[str, list[DatasetSource]]:
        return {name: list(getattr(self, name)) for name in (*WORLD_SPLITS, *UNANSWERABLE_SETS)}

"""The evaluation sets: one spec per set, from which the world's splits, the unanswerable sets, the test and
validation sets, the miniature's calibration targets and the report's set columns are all derived.

A spec says what a set is (``name``, its table ``group``, whether it is ``answerable``, the paper's
benchmark it stands for), where its questions come from (``source``: chosen from the world's in-domain
candidates of one question family, a split the synthetic world generates, or a set the ``unanswerable_sets``
stage writes; ``release``: the loaders that read the real dataset when ``world.source: datasets``), whether it
has a validation twin, the original model's calibration target on that twin (the miniature), and how the
report shows it.  The order of :data:`SETS` is the report's order (in domain, out of domain, extra).

Adding a set is one spec here, plus its question generator when none fits (``inbol.world.build.GENERATORS``
for a world split, ``inbol.unanswerable.sets.GENERATORS`` for an unanswerable set); see docs/pipeline.md.
This module imports nothing but pydantic, so every stage may read it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

GROUPS = ("in_domain", "ood", "extra")  # the report's scopes, in order
SPLITS = ("test", "validation")
Group = Literal["in_domain", "ood", "extra"]


class RegistryError(ValueError):
    """A bad evaluation-set spec or an unknown set name (one line: what is wrong and what is allowed)."""


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)


class Candidates(_Spec):
    """In domain: chosen from the world's in-domain candidates (``test.jsonl``; the validation twin from
    ``val.jsonl``) of one question family, balanced so that the original model is about
    ``testsets.target_acc`` accurate (``testsets.n_per_family`` / ``val_per_family`` questions)."""

    source: Literal["candidates"]
    family: str  # the question family (``meta.family``) the synthetic world draws and the set is chosen from
    stream: int  # the random stream of the selection


class WorldSplit(_Spec):
    """A split the synthetic world generates, taken whole: ``<name>.jsonl`` (validation: ``val_<name>.jsonl``)."""

    source: Literal["world"]
    generator: str  # the question generator (inbol.world.build.GENERATORS)
    size: str  # the world.sizes key of the test set
    val_size: str | None  # the world.sizes key of the validation twin (None: no twin)
    stream: int  # the world's random stream of the test set (stable: a new set never moves another)
    val_stream: int | None


class UnanswerableSet(_Spec):
    """A set of the ``unanswerable_sets`` stage: ``<name>.jsonl`` (validation: ``<name>_val.jsonl``)."""

    source: Literal["unanswerable"]
    generator: str | None  # inbol.unanswerable.sets.GENERATORS (None: only the real-dataset world has it)
    images_from: tuple[str, ...]  # the world splits whose images (and scenes) the generator asks about
    size: str | None  # the unanswerable.sets key of its size (validation twin: "<size>_val")
    sample_stream: int | None  # subsampled to testsets.n_unanswerable / val_unanswerable; None: taken whole


class Calibration(_Spec):
    """The original model's targets on the validation twin (the faithful miniature, inbol.miniature), and the
    paper's LLaVA-1.5-7B accuracy (%) on the real set, with and without the refusal prompt."""

    greedy_acc: tuple[float, float] | None  # greedy accuracy within [lo, hi]
    greedy_acc_min: float | None  # greedy accuracy at least this
    known_share_min: float | None  # share of Known questions (K-sample conf >= delta_k) at least this
    refusal_prompt_max_drop: float | None  # accuracy drop with the paper's refusal prompt appended at most this
    paper_acc: float | None
    paper_refusal_prompt_acc: float | None


class EvalSet(_Spec):
    name: str
    group: Group  # the report's scope: in domain (Table 1), out of domain (Table 2), extra (Table 3)
    answerable: bool  # False: every question is unanswerable (only a refusal is right)
    paper: str  # the paper's benchmark it stands for (the tables' column header)
    paper_key: str | None  # its row key in inbol.evaluation.paper's Table 1 or 3 (None: no paper figure)
    label: str  # how docs/results.md names it
    note: str | None  # what the tables' caption adds about it
    source: Annotated[Candidates | WorldSplit | UnanswerableSet, Field(discriminator="source")]
    release: tuple[str, ...]  # the loaders of the real dataset (world.datasets.<name>[].loader)
    validation: bool  # has a validation twin (every choice is made on the validation sets)
    calibration: Calibration | None  # the miniature's targets on the validation twin

    @model_validator(mode="after")
    def _check(self):
        s = self.source
        if isinstance(s, WorldSplit) and self.validation != (s.val_size is not None and s.val_stream is not None):
            raise ValueError("a world split with a validation twin needs val_size and val_stream (and only then)")
        if isinstance(s, Candidates) and not (self.answerable and self.group == "in_domain"):
            raise ValueError("a set chosen from the in-domain candidates is in domain and answerable")
        if self.calibration is not None and not self.validation:
            raise ValueError("a calibration target is checked on the validation twin: needs validation: true")
        return self

    def file(self, split: str = "test") -> str:
        """The file stem of the set's questions in its source's folder (data/world or the unanswerable sets)."""
        s = self.source
        val = split == "validation"
        if isinstance(s, Candidates):
            return "val" if val else "test"
        if isinstance(s, WorldSplit):
            return f"val_{self.name}" if val else self.name
        return f"{self.name}_val" if val else self.name

    def splits(self) -> tuple[str, ...]:
        return SPLITS if self.validation else ("test",)


def spec(**fields) -> EvalSet:
    """An :class:`EvalSet`; a bad or missing field is a one-line :class:`RegistryError`."""
    try:
        return EvalSet.model_validate(fields)
    except ValidationError as e:
        err = e.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        allowed = ", ".join(EvalSet.model_fields)
        raise RegistryError(
            f"evaluation set {fields.get('name', '?')!r}: {where or 'spec'}: {err['msg']} (a spec's fields: {allowed})"
        ) from None


def _cal(**kw) -> dict:
    return {
        "greedy_acc": None,
        "greedy_acc_min": None,
        "known_share_min": None,
        "refusal_prompt_max_drop": None,
        "paper_acc": None,
        "paper_refusal_prompt_acc": None,
        **kw,
    }


# the targets for the original model on each validation set (inbol.miniature): per in-domain family, and on
# every answerable out-of-domain set (the AOKVQA-like one asks more)
_IN_DOMAIN = {"greedy_acc": (0.35, 0.75), "refusal_prompt_max_drop": 0.10}
_OOD = {"greedy_acc_min": 0.30, "known_share_min": 0.10}


def _family(name: str, paper: str, key: str, label: str, stream: int, release: str, acc: float, rp_acc: float):
    return spec(
        name=name,
        group="in_domain",
        answerable=True,
        paper=paper,
        paper_key=key,
        label=label,
        note=None,
        source={"source": "candidates", "family": name, "stream": stream},
        release=(release,),
        validation=True,
        calibration=_cal(**_IN_DOMAIN, paper_acc=acc, paper_refusal_prompt_acc=rp_acc),
    )


def _ood(name, paper, label, stream, release, acc, note=None, **targets):
    return spec(
        name=name,
        group="ood",
        answerable=True,
        paper=paper,
        paper_key=None,
        label=label,
        note=note,
        source={
            "source": "world",
            "generator": name,
            "size": name,
            "val_size": "val_ood",
            "stream": stream,
            "val_stream": stream + 4,
        },
        release=release,
        validation=True,
        calibration=_cal(**{**_OOD, **targets}, paper_acc=acc),
    )


def _unanswerable(name, group, paper, key, label, generator, images_from, sample_stream, release, note=None, val=False):
    return spec(
        name=name,
        group=group,
        answerable=False,
        paper=paper,
        paper_key=key,
        label=label,
        note=note,
        source={
            "source": "unanswerable",
            "generator": generator,
            "images_from": images_from,
            "size": name if generator else None,
            "sample_stream": sample_stream,
        },
        release=release,
        validation=val,
        calibration=None,
    )


DEFAULT: tuple[EvalSet, ...] = (
    _family("perception", "VQAv2", "vqav2", "VQAv2-like", 0, "vqav2", 52.00, 50.67),
    _family("emblem", "OVEN", "oven", "OVEN-like", 1, "oven", 50.33, 37.33),
    _family("choice", "ScienceQA", "sqa", "ScienceQA-like", 2, "scienceqa", 51.33, 51.00),
    _unanswerable("uavqa", "in_domain", "UaVQA", "uavqa", "UaVQA-like", "uavqa", ("test",), 11, ("records",), val=True),
    _ood("ood_phrasing", "AOKVQA", "AOKVQA-like", 6, ("aokvqa",), 78.56, greedy_acc_min=0.40),
    _ood("ood_hard", "GQA", "GQA-like", 5, ("gqa",), 59.65),
    _ood(
        "ood_choice", "MMBench/MMMU", "MMBench-like", 7, ("mmbench", "mmmu"), 62.80, "five options, the paper's letter prompt"
    ),
    _unanswerable(
        "beyond", "ood", "BeyondVisQA", None, "BeyondVisQA-like", "beyond", ("ood_hard", "ood_phrasing"), None,
        ("beyondvisqa",),
    ),
    _unanswerable(
        "vizwiz", "extra", "VizWiz(ua)", "vizwiz_ua", "VizWiz-like", "vizwiz", (), None, ("vizwiz",),
        "blank, dark, blurred or covered images",
    ),
    _unanswerable("vqav2_idk", "extra", "VQAv2-IDK(filter)", "vqav2_idk_filter", "VQAv2-IDK(filter)", None, (), None,
                  ("vqav2_idk",)),
)  # fmt: skip

# the registry: name -> spec, in the report's order; tests register an extra set by patching this mapping
SETS: dict[str, EvalSet] = {s.name: s for s in DEFAULT}
# the world's own question files besides the evaluation sets: the train pool and the in-domain candidates
POOL = "pool"


# the targets of a validation set that is not registered, by its group
GROUP_TARGETS = {"in_domain": Calibration(**_cal(**_IN_DOMAIN)), "ood": Calibration(**_cal(**_OOD))}


def check_registry(sets: dict[str, EvalSet] | None = None) -> None:
    """A one-line RegistryError when two sets share a name, a file or a random stream."""
    sets = SETS if sets is None else sets
    seen: dict[tuple, str] = {}
    for key, s in sets.items():
        if key != s.name:
            raise RegistryError(f"evaluation set {s.name!r} is registered as {key!r}: the key must be its name")
        claims = [("file", s.source.source, s.file(sp)) for sp in s.splits() if not isinstance(s.source, Candidates)]
        if isinstance(s.source, WorldSplit):
            claims += [("world stream", s.source.stream), ("world stream", s.source.val_stream)]
        if isinstance(s.source, Candidates):
            claims += [("family", s.source.family), ("selection stream", s.source.stream)]
        if isinstance(s.source, UnanswerableSet):
            claims += [("selection stream", s.source.sample_stream)]
        for c in claims:
            if c[-1] is None:
                continue
            if c in seen:
                raise RegistryError(f"evaluation sets {seen[c]!r} and {s.name!r} share the {c[0]} {c[-1]!r}")
            seen[c] = s.name


check_registry()


def get(name: str) -> EvalSet:
    """The spec of ``name``; an unknown name is a one-line RegistryError listing the known sets."""
    if name not in SETS:
        raise RegistryError(f"unknown evaluation set {name!r}; known: {', '.join(SETS)}")
    return SETS[name]


def ordered(names=None, *, group: str | None = None, split: str | None = None) -> list[EvalSet]:
    """The registered sets (of ``names``, of ``group``, with a twin in ``split``), in the report's order."""
    specs = sorted(SETS.values(), key=lambda s: GROUPS.index(s.group))  # stable: registry order within a group
    return [
        s
        for s in specs
        if (names is None or s.name in names)
        and (group is None or s.group == group)
        and (split is None or split in s.splits())
    ]


def order_sets(names) -> list[str]:
    """Set names in the report's order (in domain, out of domain, extra; unknown names last, sorted)."""
    names = list(names)
    return [s.name for s in ordered(names)] + sorted(n for n in names if n not in SETS)


def families() -> tuple[str, ...]:
    """The in-domain question families (one balanced set each)."""
    return tuple(s.source.family for s in SETS.values() if isinstance(s.source, Candidates))


def world_split_sets() -> list[EvalSet]:
    """The sets the synthetic world generates as splits of their own."""
    return [s for s in SETS.values() if isinstance(s.source, WorldSplit)]


def world_files() -> tuple[str, ...]:
    """The world's question files (what ``sampling.splits`` may name): the pool, the in-domain candidates and
    the world-split sets, the validation files last."""
    sets = world_split_sets()
    return (POOL, "test", *(s.file() for s in sets), "val", *(s.file("validation") for s in sets))


def unanswerable_files() -> tuple[str, ...]:
    """The files of the unanswerable sets (the validation twins last)."""
    specs = [s for s in SETS.values() if isinstance(s.source, UnanswerableSet)]
    return (*(s.file() for s in specs), *(s.file("validation") for s in specs if s.validation))


def validation_files() -> tuple[str, ...]:
    """Every question file of a validation twin, world files first (their images stay disjoint from the others')."""
    world = world_files()
    twins = [s.file("validation") for s in SETS.values() if isinstance(s.source, UnanswerableSet) and s.validation]
    return (*world[world.index("val") :], *twins)


def world_file(name: str, split: str) -> str:
    """A world question file's validation twin (``test`` -> ``val``, ``ood_hard`` -> ``val_ood_hard``)."""
    if split != "validation":
        return name
    return "val" if name == "test" else f"val_{name}"


__all__ = [
    "GROUPS",
    "SPLITS",
    "SETS",
    "DEFAULT",
    "POOL",
    "EvalSet",
    "Candidates",
    "WorldSplit",
    "UnanswerableSet",
    "Calibration",
    "GROUP_TARGETS",
    "RegistryError",
    "spec",
    "check_registry",
    "get",
    "ordered",
    "order_sets",
    "families",
    "world_split_sets",
    "world_files",
    "unanswerable_files",
    "validation_files",
    "world_file",
]

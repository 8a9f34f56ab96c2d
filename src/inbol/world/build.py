"""Build the synthetic VQA world: images, scene graphs, the pretraining corpus and the question splits."""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..evalsets import RegistryError, world_split_sets
from ..io import iter_jsonl, write_json, write_jsonl
from ..schema.world import FAMILIES, World, WorldSizes
from .emblems import emblems_for, make_catalogue
from .questions import (
    CORPUS_CHOICE_INSTRUCTIONS,
    INSTRUCTION_SUFFIXES,
    OOD_CHOICE_INSTRUCTION,
    make_question,
    possible_qtypes,
)
from .scene import COLOR_NAMES, render, sample_scene

PERCEPTION_QTYPES = ["color", "shape", "count", "count_color", "exist", "position", "size"]
CHOICE_QTYPES = ["color", "shape", "count", "position", "size"]
# the world's own splits: the train pool and the in-domain candidates (the balanced sets are chosen from test,
# the validation ones from val, drawn like test from their own images): split -> (generator, stream, size key)
_BASE_SPLITS = {"pool": ("pool", 3, "pool"), "test": ("test", 4, "test"), "val": ("test", 8, "val")}
# random streams outside the splits (stable ids: adding a split never changes another)
_STREAM = {"corpus": 1, "exposure": 2}


def split_specs() -> dict[str, tuple[str, int, str]]:
    """Every question split the world writes -> (generator, random stream, world.sizes key), in stream order:
    the base splits and the world-split evaluation sets of the registry (inbol.evalsets) with their
    validation twins."""
    out = dict(_BASE_SPLITS)
    for s in world_split_sets():
        w = s.source
        out[s.file()] = (w.generator, w.stream, w.size)
        if s.validation:
            out[s.file("validation")] = (w.generator, w.val_stream, w.val_size)
    return dict(sorted(out.items(), key=lambda kv: kv[1][1]))


def check_splits() -> None:
    """A one-line RegistryError for a world split whose generator or size key does not exist (before any work)."""
    sizes = list(WorldSizes.model_fields)
    streams = {v: k for k, v in _STREAM.items()}
    for split, (generator, stream, size) in split_specs().items():
        if stream in streams:
            raise RegistryError(f"world splits {streams[stream]!r} and {split!r} share the random stream {stream}")
        streams[stream] = split
        if generator not in GENERATORS:
            raise RegistryError(
                f"world split {split!r}: unknown question generator {generator!r}; known: {', '.join(GENERATORS)}"
            )
        if size not in sizes:
            raise RegistryError(
                f"world split {split!r}: size key {size!r} is not in world.sizes; allowed: {', '.join(sizes)}"
            )


def ood_sets() -> tuple[str, ...]:
    """The out-of-domain sets the world generates (test files)."""
    return tuple(s.name for s in world_split_sets())


# corpus QAs of this kind teach facts and words that only the out-of-domain sets use in new combinations
CORPUS_ONLY_QTYPES = ["roll_shape", "corners_shape"]


def split_size(cfg: World, split: str) -> int:
    """How many questions a split has (its size key of ``world.sizes``: the validation OOD sets share
    ``sizes.val_ood``)."""
    return getattr(cfg.sizes, split_specs()[split][2])


def _rng(cfg: World, split: str, i: int) -> np.random.Generator:
    stream = _STREAM[split] if split in _STREAM else split_specs()[split][1]
    return np.random.default_rng([cfg.seed, stream, i])


def _perception_scene(cfg: World, rng, sid: str, n_objects=(1, None), scale=1.0, difficulty=None) -> dict:
    d = float(rng.random()) ** cfg.difficulty.power if difficulty is None else difficulty
    knobs = {k: min(1.0, getattr(cfg.difficulty, k) * scale) for k in ("noise", "clutter", "occlusion")}
    return sample_scene(rng, sid, cfg.image_size, (n_objects[0], n_objects[1] or cfg.max_objects), d, knobs)


def _emblem_scene(cfg: World, rng, sid: str, emblem: dict) -> dict:
    d = float(rng.random()) ** cfg.difficulty.power
    scene = sample_scene(rng, sid, cfg.image_size, (0, 0), d, {"noise": cfg.difficulty.noise})
    s = cfg.image_size
    scene["emblem"] = {
        "id": emblem["id"],
        "name": emblem["name"],
        "color": COLOR_NAMES[int(rng.integers(len(COLOR_NAMES)))],
        "cx": s / 2 + int(rng.integers(-1, 2)),
        "cy": s / 2 + int(rng.integers(-1, 2)),
        "scale": 0.625,
    }
    return scene


def _pick(rng, items):
    return items[int(rng.integers(len(items)))]


def _sample_qtype(rng, scene: dict, qtypes: list[str]) -> tuple[str, dict]:
    """A qtype uniformly among those well-defined on the scene, then one of its targets."""
    options = possible_qtypes(scene, qtypes)
    kinds = sorted({q for q, _ in options}, key=qtypes.index)
    qt = _pick(rng, kinds)
    return _pick(rng, [o for o in options if o[0] == qt])


def _in_domain(cfg, rng, sid, catalogue) -> tuple[dict, dict]:
    """The pool and the in-domain candidates: a family by ``family_mix``, then a question of it."""
    w = np.asarray(cfg.family_mix, dtype=float)
    family = cfg.families[int(rng.choice(len(w), p=w / w.sum()))]
    if family == "emblem" or (family == "choice" and rng.random() < 0.25):
        scene = _emblem_scene(cfg, rng, sid, _pick(rng, catalogue))
        q = make_question(
            scene,
            "emblem_name",
            {},
            rng,
            family=family,
            catalogue=catalogue,
            n_options=4 if family == "choice" else 0,
        )
    else:
        scene = _perception_scene(cfg, rng, sid)
        qtypes = PERCEPTION_QTYPES if family == "perception" else CHOICE_QTYPES
        qt, target = _sample_qtype(rng, scene, qtypes)
        q = make_question(
            scene, qt, target, rng, family=family, catalogue=catalogue, n_options=4 if family == "choice" else 0
        )
    return scene, q


def _ood_hard(cfg, rng, sid, catalogue) -> tuple[dict, dict]:
    """GQA-like: crowded, harder scenes and relational colour questions."""
    scene = None
    while scene is None or not possible_qtypes(scene, ["rel_color"]):
        scene = _perception_scene(cfg, rng, sid, n_objects=(3, 5), scale=1.5, difficulty=float(rng.uniform(0.5, 1.0)))
    qtypes = ["rel_color"] if rng.random() < 0.3 else PERCEPTION_QTYPES
    qt, target = _sample_qtype(rng, scene, qtypes)
    return scene, make_question(scene, qt, target, rng, family="perception", catalogue=catalogue)


def _ood_phrasing(cfg, rng, sid, catalogue) -> tuple[dict, dict]:
    """AOKVQA-like: the corpus-only paraphrases and facts in new combinations."""
    options = []
    while not options:
        scene = _perception_scene(cfg, rng, sid)
        options = possible_qtypes(scene, ["color", "shape", "count", "position", "roll", "corners"])
    qt, target = _sample_qtype(rng, scene, ["color", "shape", "count", "position", "roll", "corners"])
    return scene, make_question(scene, qt, target, rng, family="perception", catalogue=catalogue, ood_phrasing=True)


def _ood_choice(cfg, rng, sid, catalogue) -> tuple[dict, dict]:
    """MMBench/MMMU-like: five options and an unseen letter instruction."""
    if rng.random() < 0.25:
        scene = _emblem_scene(cfg, rng, sid, _pick(rng, catalogue))
        qt, target = "emblem_name", {}
    else:
        # in-domain scenes: the shift is the format (5 options, an unseen letter instruction, counting by
        # colour as a choice question), not the scenes (the GQA-like set has the harder ones)
        scene = _perception_scene(cfg, rng, sid)
        qt, target = _sample_qtype(rng, scene, ["color", "count", "count_color", "position", "shape"])
    q = make_question(
        scene,
        qt,
        target,
        rng,
        family="choice",
        catalogue=catalogue,
        n_options=5,
        instruction=OOD_CHOICE_INSTRUCTION,
    )
    return scene, q


# the question generators: name (a split's generator, inbol.evalsets.WorldSplit.generator) -> function
# (cfg, rng, scene id, the emblems the split shows) -> (scene, question); "pool" shows the train emblems
GENERATORS: dict[str, Callable] = {
    "pool": _in_domain,
    "test": _in_domain,
    "ood_hard": _ood_hard,
    "ood_phrasing": _ood_phrasing,
    "ood_choice": _ood_choice,
}


def _question(cfg, rng, split, i, catalogue) -> tuple[dict, dict]:
    """One question of ``split`` with its scene (scene id == question id); ``catalogue``: the emblems this
    split's questions show."""
    return GENERATORS[split_specs()[split][0]](cfg, rng, f"{split}-{i:05d}", catalogue)


def _annotate(q: dict, scene: dict, catalogue: list[dict]) -> None:
    q["meta"]["difficulty"] = scene["difficulty"]
    if scene.get("emblem") is not None:
        e = catalogue[scene["emblem"]["id"]]
        q["meta"].update(emblem_id=e["id"], exposure=e["exposure"])


def build_world(cfg: World, out_dir: str | Path, image_prefix: str | Path | None = None) -> dict:
    """Write the world to ``out_dir``; image paths in records are ``image_prefix``/images/... (default:
    ``out_dir`` itself, so records resolve from the repository root)."""
    check_splits()
    out_dir = Path(out_dir)
    prefix = Path(image_prefix) if image_prefix is not None else out_dir
    catalogue = make_catalogue(cfg.seed, cfg.n_emblems, cfg.emblem_max_exposure, cfg.emblem_zipf)
    glyphs = {e["id"]: e["glyph"] for e in catalogue}
    scenes: list[dict] = []
    stats: dict = {"image_size": cfg.image_size, "splits": {}}

    def save(scene: dict, split: str) -> str:
        rel = Path("images") / split / f"{scene['id']}.png"
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        render(scene, glyphs).save(out_dir / rel, format="PNG", optimize=False)
        scenes.append({**scene, "split": split})
        return str(prefix / rel)

    # pretraining corpus: perception images with several QAs each, plus emblem exposures; some QAs are asked
    # with the corpus-only paraphrases, some carry an instruction suffix, choice QAs vary their number of
    # options and their letter instruction, and some images get one more QA of a corpus-only fact
    def corpus_question(scene, qt, target, rng, family, as_choice):
        paraphrase = rng.random() < cfg.corpus_paraphrase_share
        suffix = None
        if rng.random() < cfg.corpus_instruction_share:
            n = int(rng.integers(1, cfg.corpus_instruction_sentences + 1))
            suffix = " ".join(_pick(rng, INSTRUCTION_SUFFIXES) for _ in range(n))
        n_options = int(_pick(rng, cfg.corpus_choice_options)) if as_choice else 0
        instruction = _pick(rng, CORPUS_CHOICE_INSTRUCTIONS)
        q = make_question(
            scene,
            qt,
            target,
            rng,
            family="choice" if as_choice else family,
            catalogue=catalogue,
            n_options=n_options,
            instruction=instruction,
            paraphrase=paraphrase,
            suffix=suffix,
        )
        _annotate(q, scene, catalogue)
        return q

    corpus = []
    for i in tqdm(range(cfg.sizes.corpus), desc="world: corpus", mininterval=2):
        rng = _rng(cfg, "corpus", i)
        scene = _perception_scene(cfg, rng, f"corpus-{i:05d}")
        image = save(scene, "corpus")
        options = possible_qtypes(scene, PERCEPTION_QTYPES)
        picked = [options.pop(int(rng.integers(len(options)))) for _ in range(min(cfg.qa_per_image, len(options)))]
        facts = possible_qtypes(scene, CORPUS_ONLY_QTYPES)
        if facts and rng.random() < cfg.corpus_fact_share:
            picked.append(_pick(rng, facts))
        for j, (qt, target) in enumerate(picked):
            as_choice = qt in CHOICE_QTYPES and rng.random() < cfg.corpus_choice_share
            q = corpus_question(scene, qt, target, rng, "perception", as_choice)
            corpus.append({"id": f"corpus-{i:05d}-{j}", "source": "world/corpus", "image": image, **q})
    k = 0
    for e in tqdm(catalogue, desc="world: emblem exposures", mininterval=2):
        for _ in range(e["exposure"]):
            rng = _rng(cfg, "exposure", k)
            scene = _emblem_scene(cfg, rng, f"exposure-{k:05d}", e)
            image = save(scene, "exposure")
            as_choice = rng.random() < cfg.corpus_choice_share
            q = corpus_question(scene, "emblem_name", {}, rng, "emblem", as_choice)
            corpus.append({"id": f"exposure-{k:05d}", "source": "world/corpus", "image": image, **q})
            k += 1
    order = np.random.default_rng([cfg.seed, 99]).permutation(len(corpus))
    corpus = [corpus[i] for i in order]
    write_jsonl(out_dir / "corpus.jsonl", corpus)
    stats["splits"]["corpus"] = _split_stats(corpus)

    for split, (generator, _, _) in split_specs().items():
        records = []
        shown = emblems_for(catalogue, generator, cfg.emblem_split == "disjoint")
        for i in tqdm(range(split_size(cfg, split)), desc=f"world: {split}", mininterval=2):
            rng = _rng(cfg, split, i)
            scene, q = _question(cfg, rng, split, i, shown)
            _annotate(q, scene, catalogue)
            records.append({"id": scene["id"], "source": f"world/{split}", "image": save(scene, split), **q})
        write_jsonl(out_dir / f"{split}.jsonl", records)
        stats["splits"][split] = _split_stats(records)

    write_jsonl(out_dir / "scenes.jsonl", scenes)
    write_json(out_dir / "emblems.json", catalogue)
    stats["emblems"] = {
        "n": len(catalogue),
        "exposures_total": sum(e["exposure"] for e in catalogue),
        "never_seen": sum(e["exposure"] == 0 for e in catalogue),
        "split": cfg.emblem_split,
        "groups": dict(collections.Counter(e["group"] for e in catalogue)) if cfg.emblem_split == "disjoint" else None,
    }
    write_json(out_dir / "stats.json", stats)
    return stats


def _split_stats(records: list[dict]) -> dict:
    fam = collections.Counter(r["meta"]["family"] for r in records)
    qt = collections.Counter(r["meta"]["qtype"] for r in records)
    return {"n": len(records), "families": dict(sorted(fam.items())), "qtypes": dict(sorted(qt.items()))}


def load_scenes(world_dir: str | Path) -> dict[str, dict]:
    return {s["id"]: s for s in iter_jsonl(Path(world_dir) / "scenes.jsonl")}


__all__ = ["build_world", "load_scenes", "split_size", "split_specs", "ood_sets", "FAMILIES", "GENERATORS"]

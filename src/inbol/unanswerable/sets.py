"""Unanswerable evaluation sets of the embedded world (paper section 4.1.2 and Table 3).

- :func:`build_uavqa`: UaVQA, the in-domain unanswerable test questions: template and swapped questions on
  TEST images, kept by the strict oracle (the paper filtered its 100 by hand).
- :func:`build_beyond`: BeyondVisQA-like (out of domain): questions that need information beyond the
  image, from a separate template bank (other topics and phrasings than the training templates).
- :func:`build_vizwiz`: VizWiz(ua)-like: new scenes whose images are blank, dark, blurred or have the asked
  object (or emblem) completely covered, with ordinary questions about content that cannot be seen.
  Images are written as PNG under the output directory.

Every record is ``{id, source, image, question, answers: [], kind: "unanswerable", meta}`` with the
structured meaning the oracle reads and ``meta.criteria`` as computed by it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..errors import DataError
from ..evalsets import SETS, RegistryError, UnanswerableSet, world_file
from ..schema.unanswerable import UnanswerableGenerate, UnanswerableSets
from ..world.questions import derive_answer, make_question, possible_qtypes
from ..world.scene import COLOR_NAMES, occluder_box, render, sample_scene
from . import oracle, templates
from .generate import generate_unanswerable, scene_of

_VIZWIZ_STREAM = 31
_BEYOND_STREAM = 32
_UAVQA_STREAM = 33


def _set_record(rec_id: str, set_name: str, image: str, question: str, meta: dict) -> dict:
    return {
        "id": rec_id,
        "source": f"unanswerable/{set_name}",
        "image": image,
        "question": question,
        "answers": [],
        "kind": "unanswerable",
        "meta": meta,
    }


# --------------------------------------------------------------------------------------------
# UaVQA (in domain)
# --------------------------------------------------------------------------------------------


def build_uavqa(
    records: Sequence[dict],
    scenes: dict[str, dict],
    n: int,
    *,
    seed: int = 0,
    gen: UnanswerableGenerate,
    name: str = "uavqa",
) -> tuple[list[dict], dict]:
    """``n`` unanswerable questions on the images of ``records`` (the test split; the validation split for the
    validation UaVQA, ``name`` ``uavqa_val``), one per image, generated with ``gen``'s method mix and
    categories (template backend) and kept by the strict oracle."""
    if n < 0:
        raise DataError(f"uavqa: n = {n}: must be >= 0")
    cfg = gen.replace(seed=seed, n_images=0, per_image=1, backend="template")
    cands, gstats = generate_unanswerable(list(records), scenes, cfg)
    kept = []
    for r in cands:
        scene = scene_of(r, scenes)
        crit = oracle.criteria(scene, r["meta"])
        if any(crit.values()) and oracle.strict_ok(scene, r["meta"], crit):
            kept.append((r, crit))
    order = np.random.default_rng([seed, _UAVQA_STREAM]).permutation(len(kept))[:n]
    out = []
    for k, i in enumerate(sorted(int(x) for x in order)):
        r, crit = kept[i]
        meta = {**r["meta"], "gen_id": r["id"], "criteria": crit}
        out.append(_set_record(f"{name}-{k:05d}", name, r["image"], r["question"], meta))
    by_method: dict[str, int] = {}
    for r in out:
        by_method[r["meta"]["method"]] = by_method.get(r["meta"]["method"], 0) + 1
    stats = {
        "candidates": len(cands),
        "strict_kept": len(kept),
        "n": len(out),
        "requested": n,
        "by_method": dict(sorted(by_method.items())),
        "generate": gstats,
    }
    return out, stats


# --------------------------------------------------------------------------------------------
# BeyondVisQA-like (out of domain)
# --------------------------------------------------------------------------------------------


def build_beyond(records: Sequence[dict], scenes: dict[str, dict], n: int, *, seed: int = 0) -> tuple[list[dict], dict]:
    """``n`` questions that need information beyond the image, on the images of ``records``
    (as few per image as possible), from the out-of-domain template bank."""
    if n < 0:
        raise DataError(f"beyond: n = {n}: must be >= 0")
    if not records and n:
        raise DataError("beyond: no source records")
    records = list(records)
    order = [int(i) for i in np.random.default_rng([seed, _BEYOND_STREAM]).permutation(len(records))]
    per_image = max(1, math.ceil(n / max(1, len(records))))
    out: list[dict] = []
    for i in order:
        if len(out) >= n:
            break
        src = records[i]
        scene = scene_of(src, scenes)
        rng = np.random.default_rng([seed, _BEYOND_STREAM, i])
        bank = templates.beyond(scene)
        for c in bank.values():
            for cd in c:
                cd["category"] = "beyond"
        for cand in templates.sample(rng, {"beyond": bank}, {"beyond": 1.0}, min(per_image, n - len(out))):
            meta = {
                "method": "beyond",
                "scene_id": scene["id"],
                "source_id": src["id"],
                **{k: cand[k] for k in ("category", "template", "target", "subjects", "claims", "asks", "explanation")},
            }
            meta["criteria"] = oracle.criteria(scene, meta)
            out.append(_set_record(f"beyond-{len(out):05d}", "beyond", src["image"], cand["question"], meta))
    by_template: dict[str, int] = {}
    for r in out:
        by_template[r["meta"]["template"]] = by_template.get(r["meta"]["template"], 0) + 1
    return out, {"n": len(out), "requested": n, "by_template": dict(sorted(by_template.items()))}


# --------------------------------------------------------------------------------------------
# VizWiz(ua)-like: content that cannot be seen
# --------------------------------------------------------------------------------------------

_MODE_REASON = {
    "blank": "the image is blank",
    "dark": "the image is too dark to see anything",
    "blur": "the image is too blurry to make out the shapes",
}
_MODE_QTYPES = {
    "blank": ["color", "shape", "position", "size"],
    "dark": ["color", "shape", "position", "size"],
    "blur": ["shape"],
}


def _full_cover(obj: dict, size: int, rng) -> list[int]:
    """An occluder box that covers ``obj`` completely (occluder_box at full width, one pixel wider)."""
    x0, y0, x1, y1 = occluder_box(obj, size, rng, frac=1.0)
    return [x0, y0, x1 + 2, y1]


def _emblem_box(e: dict, size: int) -> list[int]:
    half = size * e["scale"] / 2
    return [
        int(math.floor(e["cx"] - half)) - 1,
        int(math.floor(e["cy"] - half)) - 1,
        int(math.ceil(e["cx"] + half)) + 1,
        int(math.ceil(e["cy"] + half)) + 1,
    ]


def _vizwiz_item(
    rng, sid: str, mode: str, image_size: int, max_objects: int, catalogue: list[dict] | None, emblem_share: float
):
    """(scene, qtype, target, reason) for one VizWiz-like question."""
    d = float(rng.uniform(0.0, 0.5))
    knobs = {"noise": 0.1}
    if catalogue and rng.random() < emblem_share:
        scene = sample_scene(rng, sid, image_size, (0, 0), d, knobs)
        e = catalogue[int(rng.integers(len(catalogue)))]
        s = image_size
        scene["emblem"] = {
            "id": e["id"],
            "name": e["name"],
            "color": COLOR_NAMES[int(rng.integers(len(COLOR_NAMES)))],
            "cx": round(s / 2 + float(rng.uniform(-s / 10, s / 10)), 2),
            "cy": round(s / 2 + float(rng.uniform(-s / 10, s / 10)), 2),
            "scale": round(float(rng.uniform(0.45, 0.6)), 3),
        }
        if mode == "occluder":
            scene["occluder"] = _emblem_box(scene["emblem"], s)
            scene["emblem"]["hidden"] = True
            reason = "the emblem is completely covered"
        else:
            scene["degraded"] = mode
            reason = "the image is too blurry to make out the emblem" if mode == "blur" else _MODE_REASON[mode]
        return scene, "emblem_name", {}, reason
    while True:
        scene = sample_scene(rng, sid, image_size, (1, max_objects), d, knobs)
        if mode == "occluder":
            objs = scene["objects"]
            k = int(rng.integers(len(objs)))
            o = objs[k]
            scene["occluder"] = _full_cover(o, image_size, rng)
            o["occluded"] = True
            o["hidden"] = True
            options = [("color", {"shape": o["shape"]})]
            if sum(p["color"] == o["color"] for p in objs) == 1:
                options.append(("shape", {"color": o["color"]}))
            qt, target = options[int(rng.integers(len(options)))]
            return (
                scene,
                qt,
                target,
                f"the {o['shape'] if qt == 'color' else o['color'] + ' object'} is completely covered",
            )
        options = possible_qtypes(scene, _MODE_QTYPES[mode])
        if options:
            scene["degraded"] = mode
            qt, target = options[int(rng.integers(len(options)))]
            return scene, qt, target, _MODE_REASON[mode]


def build_vizwiz(
    n: int,
    out_dir: str | Path,
    *,
    seed: int = 0,
    image_size: int = 32,
    max_objects: int = 4,
    modes: Sequence[str] = ("blank", "blur", "dark", "occluder"),
    catalogue: list[dict] | None = None,
    emblem_share: float = 0.25,
    image_prefix: str | Path | None = None,
) -> tuple[list[dict], list[dict]]:
    """``n`` questions about content that cannot be seen, on new degraded scenes; images are written to
    ``out_dir``/images/vizwiz/; record image paths are ``image_prefix`` (default ``out_dir``)/images/...
    ``catalogue`` (the world's emblems.json) enables emblem scenes.  Returns (records, scene graphs)."""
    if n < 0:
        raise DataError(f"vizwiz: n = {n}: must be >= 0")
    modes = list(modes)
    bad = [m for m in modes if m not in ("blank", "blur", "dark", "occluder")]
    if not modes or bad:
        raise DataError(f"vizwiz: modes = {modes!r}: must be a non-empty subset of blank, blur, dark, occluder")
    out_dir = Path(out_dir)
    prefix = Path(image_prefix) if image_prefix is not None else out_dir
    glyphs = {e["id"]: e["glyph"] for e in catalogue} if catalogue else None
    records, scenes = [], []
    for i in range(n):
        rng = np.random.default_rng([seed, _VIZWIZ_STREAM, i])
        sid = f"vizwiz-{i:05d}"
        mode = modes[int(rng.integers(len(modes)))]
        scene, qt, target, reason = _vizwiz_item(rng, sid, mode, image_size, max_objects, catalogue, emblem_share)
        q = make_question(scene, qt, target, rng, family="perception", catalogue=catalogue or [])
        sem = oracle.qtype_semantics(qt, q["meta"]["target"])
        meta = {
            "method": "degraded",
            "degradation": mode,
            "scene_id": sid,
            "category": "not_visible",
            "template": q["meta"].get("template"),
            "qtype": qt,
            "target": q["meta"]["target"],
            **sem,
            "hidden_answer": derive_answer(scene, q["meta"]),
            "explanation": f"{templates.LEAD} {reason}.",
        }
        meta["criteria"] = oracle.criteria(scene, meta)
        rel = Path("images") / "vizwiz" / f"{sid}.png"
        (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        render(scene, glyphs).save(out_dir / rel, format="PNG", optimize=False)
        records.append(_set_record(sid, "vizwiz", str(prefix / rel), q["question"], meta))
        scenes.append(scene)
    return records, scenes


def _uavqa(ctx: dict, name: str, n: int, records: list[dict]) -> tuple[list[dict], dict, dict]:
    recs, stats = build_uavqa(
        records, ctx["scenes"], n if records else 0, seed=ctx["cfg"].seed, gen=ctx["gen"], name=name
    )
    return recs, stats, {}


def _beyond(ctx: dict, name: str, n: int, records: list[dict]) -> tuple[list[dict], dict, dict]:
    recs, stats = build_beyond(records, ctx["scenes"], n, seed=ctx["cfg"].seed)
    return recs, stats, {}


def _vizwiz(ctx: dict, name: str, n: int, records: list[dict]) -> tuple[list[dict], dict, dict]:
    cfg = ctx["cfg"]
    recs, scenes = build_vizwiz(
        n,
        ctx["out_dir"],
        seed=cfg.seed,
        image_size=ctx["image_size"],
        max_objects=ctx["max_objects"],
        modes=cfg.vizwiz_modes,
        catalogue=ctx["catalogue"],
        emblem_share=cfg.vizwiz_emblem_share,
        image_prefix=ctx["image_prefix"],
    )
    return recs, {"n": len(recs)}, {f"{name}_scenes": scenes}


# the generators of the unanswerable evaluation sets (inbol.evalsets.UnanswerableSet.generator): name ->
# function (context, set file name, size, the records of the world splits it asks about) -> (records, stats,
# {extra file stem: rows}); the context holds cfg, gen, scenes, out_dir, image_size, max_objects, catalogue,
# image_prefix
GENERATORS: dict[str, Callable] = {"uavqa": _uavqa, "beyond": _beyond, "vizwiz": _vizwiz}


def build_sets(
    cfg: UnanswerableSets,
    read_world: Callable[[str], list[dict]],
    scenes: dict[str, dict],
    out_dir: str | Path,
    *,
    gen: UnanswerableGenerate,
    image_size: int = 32,
    max_objects: int = 4,
    catalogue: list[dict] | None = None,
    image_prefix: str | Path | None = None,
) -> dict[str, tuple[list[dict], dict, dict]]:
    """Every generated unanswerable set of the registry (inbol.evalsets) and its validation twin, from one
    config: ``{file: (records, stats, {extra file: rows})}`` (e.g. ``uavqa``, ``uavqa_val``, ``beyond``,
    ``vizwiz``); ``read_world(split)`` gives a world split's records (the validation twin asks about the
    validation twins of the splits its test set asks about).  A set's size is its ``unanswerable.sets`` key
    (``<key>_val`` for the twin)."""
    ctx = {
        "cfg": cfg,
        "gen": gen,
        "scenes": scenes,
        "out_dir": Path(out_dir),
        "image_size": image_size,
        "max_objects": max_objects,
        "catalogue": catalogue,
        "image_prefix": image_prefix,
    }
    specs = [s for s in SETS.values() if isinstance(s.source, UnanswerableSet) and s.source.generator is not None]
    for s in specs:  # every name checked before any work
        if s.source.generator not in GENERATORS:
            raise RegistryError(
                f"evaluation set {s.name!r}: unknown generator {s.source.generator!r}; known: {', '.join(GENERATORS)}"
            )
        for split in s.splits():
            key = s.source.size + ("_val" if split == "validation" else "")
            if key not in type(cfg).model_fields:
                raise RegistryError(
                    f"evaluation set {s.name!r}: size key {key!r} is not in unanswerable.sets; "
                    f"allowed: {', '.join(k for k, f in type(cfg).model_fields.items() if f.annotation is int and k != 'seed')}"
                )
    read: dict[str, list[dict]] = {}  # every world split read (and checked) before any set is generated
    for s in specs:
        for split in s.splits():
            for f in s.source.images_from:
                name = world_file(f, split)
                if name not in read:
                    read[name] = read_world(name)
    out = {}
    for s in specs:
        for split in s.splits():
            key = s.source.size + ("_val" if split == "validation" else "")
            records = [r for f in s.source.images_from for r in read[world_file(f, split)]]
            out[s.file(split)] = GENERATORS[s.source.generator](ctx, s.file(split), getattr(cfg, key), records)
    return out

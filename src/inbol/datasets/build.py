"""Build ``data/world`` from the real datasets (``world.source: datasets``).

Writes the same question files as the synthetic world, so every later stage runs unchanged:

- ``pool.jsonl`` (VQAv2 / OVEN / ScienceQA train), ``test.jsonl`` (VQAv2 val, OVEN val, ScienceQA test),
  ``ood_phrasing.jsonl`` (AOKVQA), ``ood_hard.jsonl`` (GQA), ``ood_choice.jsonl`` (MMBench en-dev, MMMU val);
- ``uavqa.jsonl``, ``beyond.jsonl``, ``vizwiz.jsonl``, ``vqav2_idk.jsonl``: the unanswerable evaluation
  sets, which the ``unanswerable_sets`` stage copies to ``data/unanswerable/sets/``;
- ``stats.json`` (``source: datasets``; per split and source: rows read, kept, filtered, bad fields and images),
  and an empty ``scenes.jsonl`` / ``emblems.json`` (real images have no scene graph: the unanswerable
  stages then need their ``openai`` backends, see docs/gpu.md).  There is no ``corpus.jsonl``: a real
  base model is loaded, never pretrained (``base_model.source`` must be a hub id or a local folder).

Embedded images are written as PNG under ``images/<split or set>/<loader>/``; file-name images are referenced
under their source's ``image_root`` (or through its ``image_map``).  Per source, bad rows (a malformed field,
an image that is missing, unreadable or absent from the image map) are counted and skipped up to
``max_bad_image_fraction``; beyond that the build stops with a one-line error naming the source, the first bad
row's id and its field.  A source whose rows lack a required column stops it at once.
"""

from __future__ import annotations

import collections
import string
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import DataError
from ..evalsets import validation_files
from ..io import write_json, write_jsonl
from ..schema.world import UNANSWERABLE_SETS, WORLD_SPLITS, DatasetsConfig, DatasetSource
from .images import BadImage, ImageMap, ImageWriter
from .loaders import ID_COLUMNS, LOADERS, BadRow, missing

VALIDATION = validation_files()  # the validation splits and sets (inbol.evalsets)
BUILDERS = ("json", "parquet", "csv", "text", "arrow", "imagefolder")


def source_label(spec: DatasetSource) -> str:
    """How errors name a dataset: loader, then the hub id/config/split or the builder's data files."""
    if spec.path in BUILDERS and spec.data_files is not None:
        files = spec.data_files if isinstance(spec.data_files, str) else str(spec.data_files)
        return f"{spec.loader} ({spec.path}: {files})"
    name = f"/{spec.name}" if isinstance(spec.name, str) else ""
    return f"{spec.loader} ({spec.path}{name}, split {spec.split})"


def _pattern_fields(pattern: str) -> list[str]:
    return [f.split(".")[0].split("[")[0] for _, f, _, _ in string.Formatter().parse(pattern) if f]


def _image_value(loader, row: dict, spec: DatasetSource, where: str, mapped: str | None | bool = False):
    """What locates the row's image: an image column's value, the ``image_map`` entry (``mapped``: the
    looked-up path, None when the id is absent; False: the source has no map), ``image_pattern`` filled
    from the row, or the loader's own fallback."""
    for col in loader.image_columns:
        if col in row and row[col] is not None:
            return row[col]
    if mapped is not False:
        key = row.get(loader.map_key)
        if mapped is None:
            raise BadImage(f"image id {key!r} is not in the image map {spec.image_map}")
        return loader.mapped_image(str(key), mapped)
    pattern = spec.image_pattern or loader.default_pattern
    if pattern is None:
        return loader.fallback_image(row, spec.image_root)
    try:
        return pattern.format(**row)
    except KeyError as e:  # a column no row has: the source is misconfigured
        raise DataError(f"{where}: field {str(e).strip(chr(39))!r} cannot fill image_pattern {pattern!r}") from None
    except (ValueError, TypeError, IndexError):
        field = next((f for f in _pattern_fields(pattern) if missing(row.get(f))), None) or _pattern_fields(pattern)[0]
        raise BadRow(where, field, f"= {row.get(field)!r} cannot fill image_pattern {pattern!r}") from None


def _check_columns(loader, ds, label: str, spec: DatasetSource) -> None:
    columns = set(ds.column_names)
    needed = list(loader.required)
    if spec.image_map is not None:
        needed.append((loader.map_key,))
    for alternatives in needed:
        if not columns & set(alternatives):
            first = None
            if len(ds):
                row0 = ds[0]
                first = next((row0[c] for c in ID_COLUMNS if c in row0 and row0[c] is not None), 0)
            raise DataError(
                f"{label}: record {first!r} (and every other): missing required field {alternatives[0]!r}"
                + (f" (or {', '.join(map(repr, alternatives[1:]))})" if len(alternatives) > 1 else "")
                + f"; columns: {', '.join(sorted(columns))}"
            )


def _map_lookup(ds, spec: DatasetSource, loader, label: str):
    """The ``image_map`` path of every row (an Arrow array aligned with ``ds``), or None without a map."""
    if spec.image_map is None:
        return None
    keys = ds.data.column(loader.map_key) if getattr(ds, "_indices", None) is None else ds[loader.map_key]
    return ImageMap(spec.image_map, label).lookup(keys)


def load_source(
    spec: DatasetSource,
    out_dir: str | Path,
    image_prefix: str | Path,
    *,
    tag: str = "world",
    max_bad_fraction: float = 0.01,
    verify_images: bool = True,
) -> tuple[list[dict], dict]:
    """Question records of one source and its counts.  The rows are visited in a seeded random order
    (all of them, or until ``limit`` records are kept) and returned in the source's order.  Record ids are
    ``<tag>-<loader>-<the row's id>`` (``tag``: the world split or set the source feeds).

    Bad rows (a malformed field: :class:`~inbol.datasets.loaders.BadRow`; a missing or unreadable image,
    an id missing from the image map) are counted and skipped; more than ``max_bad_fraction`` of the visited
    rows is a one-line DataError naming the source, the first bad row's id and its field."""
    loader = LOADERS[spec.loader]
    label = source_label(spec)
    ds = loader.read(spec, label)
    _check_columns(loader, ds, label, spec)
    mapped = _map_lookup(ds, spec, loader, label)
    n = len(ds)
    order = (
        np.random.default_rng(spec.seed).permutation(n) if spec.limit is not None and spec.limit < n else np.arange(n)
    )
    writer = ImageWriter(Path(out_dir), Path(image_prefix), f"{tag}/{spec.loader}", spec.image_root, verify_images)
    kept: list[tuple[int, dict]] = []
    filtered: collections.Counter = collections.Counter()
    bad: list[dict] = []
    seen = 0
    for i in tqdm(order, desc=f"world: {spec.loader}/{spec.split}", mininterval=2):
        if spec.limit is not None and len(kept) >= spec.limit:
            break
        seen += 1
        row = ds[int(i)]
        raw_id = next((row[c] for c in ID_COLUMNS if c in row and row[c] is not None and str(row[c]).strip()), int(i))
        rid = f"{tag}-{spec.loader}-{raw_id}"
        where = f"{label}: record {str(raw_id)!r}"
        try:
            rec, reason = loader.convert(row, where, spec.options)
            if rec is None:
                filtered[reason] += 1
                continue
            if not rec["question"]:
                raise BadRow(where, "question", "is empty")
            value = _image_value(loader, row, spec, where, mapped[int(i)].as_py() if mapped is not None else False)
            image = writer.path(value, rid, where, base64_ok=loader.base64_images)
        except BadRow as e:
            what = f"record {str(raw_id)!r}: field {e.field!r} {e.problem}"
            bad.append({"id": rid, "field": e.field, "reason": e.problem, "kind": "field", "what": what})
        except BadImage as e:
            what = f"record {str(raw_id)!r}: field 'image': {e}"
            bad.append({"id": rid, "field": "image", "reason": str(e), "kind": "image", "what": what})
        else:
            meta = {**rec.pop("meta"), "source_id": raw_id}
            if meta.get("dataset") is None:
                meta["dataset"] = spec.loader
            if spec.family is not None:
                meta["family"] = spec.family
            kept.append(
                (int(i), {"id": rid, "source": f"{spec.loader}/{spec.split}", "image": image, **rec, "meta": meta})
            )
        if len(bad) > max_bad_fraction * max(seen, 1) and seen >= 20:
            break
    if len(bad) > max_bad_fraction * max(seen, 1):
        raise DataError(
            f"{label}: {len(bad)} of {seen} rows ({len(bad) / max(seen, 1):.1%}) are bad (a malformed field, or a "
            f"missing or unreadable image), more than max_bad_image_fraction = {max_bad_fraction:g} "
            f"(first: {bad[0]['what']})"
        )
    kept.sort(key=lambda t: t[0])
    stats = {
        "rows": n,
        "visited": seen,
        "kept": len(kept),
        "bad_images": sum(b["kind"] == "image" for b in bad),
        "bad_fields": sum(b["kind"] == "field" for b in bad),
        "filtered": dict(sorted(filtered.items())),
        "bad_examples": [{k: b[k] for k in ("id", "field", "reason")} for b in bad[:5]],
    }
    return [r for _, r in kept], stats


def _split_stats(records: list[dict]) -> dict:
    fam = collections.Counter(str(r["meta"].get("family")) for r in records)
    qt = collections.Counter(str(r["meta"].get("qtype")) for r in records)
    ds = collections.Counter(str(r["meta"].get("dataset")) for r in records)
    return {
        "n": len(records),
        "families": dict(sorted(fam.items())),
        "qtypes": dict(sorted(qt.items())),
        "datasets": dict(sorted(ds.items())),
    }


def build_datasets_world(cfg: DatasetsConfig, out_dir: str | Path, image_prefix: str | Path | None = None) -> dict:
    """Write the question files of ``data/world`` from the real datasets; returns the stats."""
    out_dir = Path(out_dir)
    prefix = Path(image_prefix) if image_prefix is not None else out_dir
    out_dir.mkdir(parents=True, exist_ok=True)
    stats: dict = {"source": "datasets", "splits": {}, "sets": {}, "sources": {}}
    loaded: dict[str, list[dict]] = {}
    for name, specs in cfg.sources().items():
        records: list[dict] = []
        for spec in specs:
            recs, st = load_source(
                spec,
                out_dir,
                prefix,
                tag=name,
                max_bad_fraction=cfg.max_bad_image_fraction,
                verify_images=cfg.verify_images,
            )
            answerable = name in WORLD_SPLITS
            wrong = [r for r in recs if (r["kind"] == "unanswerable") == answerable]
            if wrong:
                raise DataError(
                    f"{source_label(spec)}: record {wrong[0]['meta']['source_id']!r}: field 'kind' = "
                    f"{wrong[0]['kind']!r} does not belong in {name} "
                    f"({'answerable' if answerable else 'unanswerable'} questions)"
                )
            records += recs
            stats["sources"].setdefault(name, {})[source_label(spec)] = st
        ids = collections.Counter(r["id"] for r in records)
        dup = next((i for i, c in ids.items() if c > 1), None)
        if dup is not None:
            raise DataError(f"world.datasets.{name}: record id {dup!r} appears more than once (a source listed twice?)")
        loaded[name] = records
    # validation images must be disjoint from every other split and set (the testsets stage checks it too):
    # a validation question on such an image is left out and counted
    evaluated = {r["image"] for name, recs in loaded.items() if name not in VALIDATION for r in recs}
    for name in VALIDATION:
        kept = [r for r in loaded[name] if r["image"] not in evaluated]
        stats.setdefault("dropped_shared_image", {})[name] = len(loaded[name]) - len(kept)
        loaded[name] = kept
    for name, records in loaded.items():
        write_jsonl(out_dir / f"{name}.jsonl", records)
        (stats["splits"] if name in WORLD_SPLITS else stats["sets"])[name] = _split_stats(records)
    write_jsonl(out_dir / "scenes.jsonl", [])
    write_json(out_dir / "emblems.json", [])
    write_json(out_dir / "stats.json", stats)
    return stats


__all__ = ["build_datasets_world", "load_source", "source_label", "UNANSWERABLE_SETS", "WORLD_SPLITS"]

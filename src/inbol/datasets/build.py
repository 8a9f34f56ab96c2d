"""Build ``data/world`` from the real datasets (``world.source: datasets``).

Writes the same question files as the synthetic world, so every later stage runs unchanged:

- ``pool.jsonl`` (VQAv2 / OVEN / ScienceQA train), ``test.jsonl`` (VQAv2 val, OVEN val, ScienceQA test),
  ``ood_phrasing.jsonl`` (AOKVQA), ``ood_hard.jsonl`` (GQA), ``ood_choice.jsonl`` (MMBench en-dev, MMMU val);
- ``uavqa.jsonl``, ``beyond.jsonl``, ``vizwiz.jsonl``, ``vqav2_idk.jsonl``: the unanswerable evaluation
  sets, which the ``unanswerable_sets`` stage copies to ``data/unanswerable/sets/``;
- ``stats.json`` (``source: datasets``; per split and source: rows read, kept, filtered, bad images),
  and an empty ``scenes.jsonl`` / ``emblems.json`` (real images have no scene graph: the unanswerable
  stages then need their ``openai`` backends, see docs/gpu.md).  There is no ``corpus.jsonl``: a real
  base model is loaded, never pretrained (``base_model.source`` must be a hub id or a local folder).

Embedded images are written as PNG under ``images/<split or set>/<loader>/``; file-name images are referenced
under their source's ``image_root``.  Per source, rows whose image is missing or unreadable are counted
and skipped up to ``max_bad_image_fraction``; beyond that the build stops with a one-line error.
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..errors import DataError
from ..io import write_json, write_jsonl
from ..params import UNANSWERABLE_SETS, WORLD_SPLITS, DatasetsConfig, DatasetSource
from .images import BadImage, ImageWriter
from .loaders import ID_COLUMNS, LOADERS, load_rows

BUILDERS = ("json", "parquet", "csv", "text", "arrow", "imagefolder")


def source_label(spec: DatasetSource) -> str:
    """How errors name a dataset: loader, then the hub id/config/split or the builder's data files."""
    if spec.path in BUILDERS and spec.data_files is not None:
        files = spec.data_files if isinstance(spec.data_files, str) else str(spec.data_files)
        return f"{spec.loader} ({spec.path}: {files})"
    name = f"/{spec.name}" if isinstance(spec.name, str) else ""
    return f"{spec.loader} ({spec.path}{name}, split {spec.split})"


def _image_value(loader, row: dict, spec: DatasetSource, where: str):
    for col in loader.image_columns:
        if col in row and row[col] is not None:
            return row[col]
    pattern = spec.image_pattern or loader.default_pattern
    if pattern is None:
        return None
    try:
        return pattern.format(**row)
    except (KeyError, ValueError, TypeError, IndexError) as e:
        raise DataError(f"{where}: field {str(e).strip(chr(39))!r} cannot fill image_pattern {pattern!r}") from None


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
    ``<tag>-<loader>-<the row's id>`` (``tag``: the world split or set the source feeds)."""
    loader = LOADERS[spec.loader]
    label = source_label(spec)
    ds = load_rows(spec)
    columns = set(ds.column_names)
    for alternatives in loader.required:
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
        rec, reason = loader.convert(row, where, spec.options)
        if rec is None:
            filtered[reason] += 1
            continue
        if not rec["question"]:
            raise DataError(f"{where}: field 'question' is empty")
        try:
            image = writer.path(_image_value(loader, row, spec, where), rid, where, base64_ok=loader.base64_images)
        except BadImage as e:
            bad.append({"id": rid, "reason": str(e)})
            continue
        meta = {**rec.pop("meta"), "source_id": raw_id}
        if meta.get("dataset") is None:
            meta["dataset"] = spec.loader
        if spec.family is not None:
            meta["family"] = spec.family
        kept.append((int(i), {"id": rid, "source": f"{spec.loader}/{spec.split}", "image": image, **rec, "meta": meta}))
        if len(bad) > max_bad_fraction * max(seen, 1) and seen >= 20:
            break
    if len(bad) > max_bad_fraction * max(seen, 1):
        raise DataError(
            f"{label}: {len(bad)} of {seen} rows ({len(bad) / max(seen, 1):.1%}) have a missing or unreadable "
            f"image, more than max_bad_image_fraction = {max_bad_fraction:g} "
            f"(first: record {bad[0]['id']}, field 'image': {bad[0]['reason']})"
        )
    kept.sort(key=lambda t: t[0])
    stats = {
        "rows": n,
        "visited": seen,
        "kept": len(kept),
        "bad_images": len(bad),
        "filtered": dict(sorted(filtered.items())),
        "bad_examples": bad[:5],
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
        write_jsonl(out_dir / f"{name}.jsonl", records)
        (stats["splits"] if name in WORLD_SPLITS else stats["sets"])[name] = _split_stats(records)
    write_jsonl(out_dir / "scenes.jsonl", [])
    write_json(out_dir / "emblems.json", [])
    write_json(out_dir / "stats.json", stats)
    return stats


__all__ = ["build_datasets_world", "load_source", "source_label", "UNANSWERABLE_SETS", "WORLD_SPLITS"]

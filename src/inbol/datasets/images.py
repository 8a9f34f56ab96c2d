"""Images of real-dataset rows: embedded bytes (an HF ``Image`` column, MMBench's base64) are written as
PNG under ``data/world/images/``; file names are resolved under the source's ``image_root`` and
referenced by path.  A path that leaves the image root is an error; an image that is missing or does not
decode is a *bad image* (the row is counted and skipped by the caller).  :class:`ImageMap` reads a source's
``image_map`` (image id -> path, e.g. OVEN's ``ovenid2impath.csv``)."""

from __future__ import annotations

import base64
import binascii
import io
import os
import re
from pathlib import Path
from typing import Any

from ..errors import DataError

_FILE_SUFFIX = re.compile(r"\.(jpe?g|png|gif|bmp|webp|tiff?)$", re.I)


class BadImage(Exception):
    """A missing or undecodable image (the row is skipped and counted)."""


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:120] or "x"


def _decode(data: bytes):
    from PIL import Image

    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except Exception as e:  # noqa: BLE001 - any decoder failure makes the image bad
        raise BadImage(f"undecodable image bytes ({type(e).__name__})") from None
    return im


def _check_file(path: Path, verify: bool) -> None:
    if not path.is_file():
        raise BadImage(f"missing file {path}")
    if verify:
        from PIL import Image

        try:
            with Image.open(path) as im:
                im.load()
        except Exception as e:  # noqa: BLE001
            raise BadImage(f"unreadable file {path} ({type(e).__name__})") from None


def under_root(rel: str, image_root: str | None, where: str) -> str:
    """``rel`` joined to ``image_root`` (kept relative when the root is); a DataError naming ``where``
    when it leaves the root or there is no root to resolve against."""
    if image_root is None:
        p = Path(rel)
        if p.is_absolute():
            return str(p)
        raise DataError(f"{where}: image path {rel!r} is relative and the source has no image_root")
    root = Path(image_root)
    joined = Path(os.path.normpath(root / rel))
    real_root, real = root.resolve(), joined.resolve()
    if real != real_root and real_root not in real.parents:
        raise DataError(f"{where}: image path {rel!r} escapes the image root {image_root}")
    return str(joined)


class ImageWriter:
    """Turns one row's image value into a path for the question record."""

    def __init__(self, out_dir: Path, image_prefix: Path, folder: str, image_root: str | None, verify: bool = True):
        self.out_dir, self.prefix = Path(out_dir), Path(image_prefix)
        self.folder = "/".join(_safe(part) for part in folder.split("/"))
        self.image_root, self.verify = image_root, verify

    def _save(self, im, rid: str) -> str:
        rel = Path("images") / self.folder / f"{_safe(rid)}.png"
        (self.out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        if im.mode not in ("RGB", "L"):
            im = im.convert("RGB")
        im.save(self.out_dir / rel, format="PNG", optimize=False)
        return str(self.prefix / rel)

    def path(self, value: Any, rid: str, where: str, base64_ok: bool = False) -> str:
        """The record's image path; BadImage when it is missing or unreadable."""
        if value is None:
            raise BadImage("no image")
        if isinstance(value, dict):  # datasets Image(decode=False): {"bytes", "path"}
            if value.get("bytes"):
                return self._save(_decode(value["bytes"]), rid)
            if value.get("path"):
                value = value["path"]
            else:
                raise BadImage("empty image value")
        if hasattr(value, "save") and hasattr(value, "mode"):  # a decoded PIL image
            return self._save(value, rid)
        if isinstance(value, bytes):
            return self._save(_decode(value), rid)
        if not isinstance(value, str) or not value.strip():
            raise BadImage(f"image value of type {type(value).__name__}")
        if base64_ok and len(value) > 256 and not _FILE_SUFFIX.search(value[-8:]):  # MMBench TSV: base64
            try:
                data = base64.b64decode(value, validate=False)
            except (binascii.Error, ValueError):
                raise BadImage("undecodable base64 image") from None
            return self._save(_decode(data), rid)
        path = under_root(value, self.image_root, where)
        _check_file(Path(path), self.verify)
        return path


class ImageMap:
    """An ``image_map`` file: image id -> path, read once and looked up for a whole source at a time.

    A ``.json`` file holds an object ``{id: path}``; any other file is a two-column CSV ``id,path`` without a
    header (OVEN's ``ovenid2impath.csv``: ``oven_id,source_path``; a header line, if any, is an id no row has)."""

    def __init__(self, path: str | Path, label: str):
        import pyarrow as pa

        self.path, self.label = str(path), label
        if not Path(path).is_file():
            raise DataError(f"{label}: field 'image_map' = {self.path!r}: no such file")
        if str(path).lower().endswith(".json"):
            import json

            try:
                data = json.loads(Path(path).read_text())
            except ValueError as e:
                raise DataError(f"{label}: field 'image_map' = {self.path!r}: not JSON ({e})") from None
            if not isinstance(data, dict):
                raise DataError(f"{label}: field 'image_map' = {self.path!r}: must hold an object {{id: path}}")
            self.keys = pa.array([str(k) for k in data], type=pa.string())
            self.values = pa.array([str(v) for v in data.values()], type=pa.string())
            return
        from pyarrow import csv

        try:
            table = csv.read_csv(
                path,
                read_options=csv.ReadOptions(column_names=["id", "path"]),
                convert_options=csv.ConvertOptions(column_types={"id": pa.string(), "path": pa.string()}),
            )
        except (pa.ArrowInvalid, OSError) as e:
            first = " ".join(str(e).split())[:160]
            raise DataError(f"{label}: field 'image_map' = {self.path!r}: not an id,path CSV ({first})") from None
        self.keys, self.values = table.column("id").combine_chunks(), table.column("path").combine_chunks()

    def lookup(self, keys):
        """The mapped path of each of ``keys`` (a list or an Arrow array), as an Arrow array aligned with
        ``keys`` (null where the id is not in the map); ``result[i].as_py()`` reads one."""
        import pyarrow as pa
        import pyarrow.compute as pc

        if isinstance(keys, (pa.Array, pa.ChunkedArray)):
            keys = pc.cast(keys, pa.string())
        else:
            keys = pa.array([None if k is None else str(k) for k in keys], type=pa.string())
        return self.values.take(pc.index_in(keys, value_set=self.keys))
